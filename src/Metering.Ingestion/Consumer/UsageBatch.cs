using System.Diagnostics;
using Metering.Domain.Usage;

namespace Metering.Ingestion.Consumer;

/// <summary>
/// A batch as the consumer reads it. <see cref="UsageBatchProcessor.Add"/> parses each record as it
/// arrives, so the batch holds parsed usage only and every consumed record (key, headers, about
/// 1 KB) is garbage at once; its value sits in a buffer the next record reuses. Collecting the
/// records first and parsing them at the end kept up to a whole batch of them alive, and every
/// collection while a batch filled promoted them.
/// </summary>
public sealed class UsageBatch
{
    internal UsageBatch(Dictionary<string, AccountPart> byAccount, long collected, DateTimeOffset readAt, bool traced, CancellationToken ct)
    {
        ByAccount = byAccount;
        Collected = collected;
        ReadAt = readAt;
        Traced = traced;
        Cancellation = ct;
    }

    /// <summary>How many records were added, valid or not.</summary>
    public int Count => Offsets.Count;

    internal BatchOffsets Offsets { get; } = new();

    /// <summary>When the first record was read (a timestamp of the processor's clock), for the batch's duration.</summary>
    internal long Collected { get; }

    /// <summary>The engine's clock for the whole batch: an event's time is judged against it, and it stands in for a missing one.</summary>
    internal DateTimeOffset ReadAt { get; }

    /// <summary>Whether anyone listens to the ingestion spans; if not, no record's trace context is read.</summary>
    internal bool Traced { get; }

    /// <summary>Stops the batch's dead letters and asks (the consumer's drain).</summary>
    internal CancellationToken Cancellation { get; }

    /// <summary>Each account's part; an emptied table of an earlier batch (see <see cref="UsageBatchProcessor"/>).</summary>
    internal Dictionary<string, AccountPart> ByAccount { get; }

    /// <summary>When Kafka took each valid record, for the ingest-to-durable latency.</summary>
    internal List<DateTime> IngestedAt { get; } = [];

    internal List<Task> DeadLetters { get; } = [];

    /// <summary>The distinct producer contexts the batch's span links to.</summary>
    internal HashSet<ActivityContext> Producers { get; } = [];

    /// <summary>An account's records in the batch and the trace context of its first traced record.</summary>
    internal sealed class AccountPart
    {
        public List<UsageRecord> Records { get; } = [];
        public ActivityContext? Producer { get; set; }
    }
}
