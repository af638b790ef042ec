using Metering.Domain.Usage;

namespace Metering.Domain.Accounts;

/// <summary>What happened to an account; the only thing persisted, replayed to rebuild state.</summary>
public interface IAccountEvent
{
    DateTimeOffset At { get; }
}

/// <summary>
/// One consumed batch for one account: the usage it accepted, how many it dropped as producer
/// duplicates, and the new Kafka watermark per partition (which also covers the dropped ones).
/// </summary>
public sealed record UsageRecorded(
    IReadOnlyList<UsageRecord> Accepted,
    IReadOnlyList<KafkaPosition> Watermarks,
    int Duplicates,
    DateTimeOffset At) : IAccountEvent;
