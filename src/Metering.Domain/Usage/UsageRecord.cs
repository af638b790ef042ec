namespace Metering.Domain.Usage;

/// <summary>Where a usage event sat in Kafka; the account's redelivery watermark is kept per partition.</summary>
public readonly record struct KafkaPosition(int Partition, long Offset);

/// <summary>One valid usage event, already mapped to its meter.</summary>
/// <param name="Source">CloudEvents <c>source</c>; with <paramref name="EventId"/> the producer's dedupe key.</param>
/// <param name="EventId">CloudEvents <c>id</c>.</param>
/// <param name="Meter">Meter key.</param>
/// <param name="Quantity">Quantity, greater than zero.</param>
/// <param name="OccurredAt">CloudEvents <c>time</c> (or ingest time when absent).</param>
/// <param name="Team">Optional team dimension.</param>
/// <param name="User">Optional user dimension.</param>
/// <param name="Position">Kafka partition and offset it was read from.</param>
public sealed record UsageRecord(
    string Source,
    string EventId,
    string Meter,
    decimal Quantity,
    DateTimeOffset OccurredAt,
    string? Team,
    string? User,
    KafkaPosition Position)
{
    public DedupeKey DedupeKey => new(Source, EventId);
}

/// <summary>CloudEvents identity: <c>(source, id)</c> is unique per producer by the spec.</summary>
public readonly record struct DedupeKey(string Source, string Id);
