using System.Diagnostics;

namespace Metering.Ingestion.Consumer;

/// <summary>
/// Spans of the consumer, following OpenTelemetry's messaging conventions for batches: one span per
/// consumed batch linked to the producers' contexts, and one per account of the batch. An account's
/// span continues the trace of its first traced record (so an HTTP ingest shows the way to the
/// persist) and links back to the batch.
/// </summary>
public static class IngestionTracing
{
    public const string SourceName = "Metering.Ingestion";

    /// <summary>Links beyond this add nothing a trace viewer can show and cost memory on big batches.</summary>
    public const int MaxLinks = 128;

    private static readonly ActivitySource Source = new(SourceName);

    /// <summary>Whether anyone listens: if not, the consumer reads no trace context from the records.</summary>
    public static bool Enabled => Source.HasListeners();

    /// <summary>
    /// Makes the batch's span <see cref="Activity.Current"/> (the caller puts its own back). It starts
    /// when the batch's first record was read, since records are parsed as they are read.
    /// </summary>
    public static Activity? StartBatch(IEnumerable<ActivityContext> producers, int count, string topic, DateTimeOffset startedAt)
    {
        // A batch starts a trace of its own: whatever ran before on the consumer thread did not cause it.
        Activity.Current = null;
        var activity = Source.StartActivity($"process {topic}", ActivityKind.Consumer, parentContext: default,
            links: producers.Select(c => new ActivityLink(c)), startTime: startedAt);
        activity?.SetTag("messaging.system", "kafka");
        activity?.SetTag("messaging.destination.name", topic);
        activity?.SetTag("messaging.batch.message_count", count);
        return activity;
    }

    /// <summary>The account's part of the batch: the shard region ask up to the account's answer (after its persist).</summary>
    public static Activity? StartAccount(string accountId, int records, ActivityContext? producer)
    {
        var batch = Activity.Current?.Context;
        var activity = producer is { } parent
            ? Source.StartActivity("record usage", ActivityKind.Client, parent, links: batch is { } b ? [new ActivityLink(b)] : null)
            : Source.StartActivity("record usage", ActivityKind.Client);
        activity?.SetTag("metering.account_id", accountId);
        activity?.SetTag("messaging.batch.message_count", records);
        return activity;
    }
}
