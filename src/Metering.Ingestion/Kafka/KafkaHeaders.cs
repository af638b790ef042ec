namespace Metering.Ingestion.Kafka;

/// <summary>Header names on dead-lettered records.</summary>
public static class KafkaHeaders
{
    /// <summary>Stable reason code, e.g. <c>unknown_type</c>.</summary>
    public const string Reason = "reason";
    /// <summary>Human-readable explanation.</summary>
    public const string ReasonDetail = "reason-detail";
    public const string SourceTopic = "source-topic";
    public const string SourcePartition = "source-partition";
    public const string SourceOffset = "source-offset";
}
