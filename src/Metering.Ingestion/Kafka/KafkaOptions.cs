using Metering.Domain.Usage;

namespace Metering.Ingestion.Kafka;

/// <summary><c>Metering:Kafka:*</c>.</summary>
public sealed class KafkaOptions
{
    /// <summary>External Kafka; empty starts the embedded broker.</summary>
    public string? BootstrapServers { get; set; }
    public string UsageTopic { get; set; } = "metering.usage";
    public string NotificationsTopic { get; set; } = "metering.notifications";
    public string DeadLetterTopic { get; set; } = "metering.usage.dlq";
    /// <summary>Partitions of the usage topic when the engine creates it; the ceiling on consumers that share the load.</summary>
    public int UsagePartitions { get; set; } = 8;
    public string ConsumerGroup { get; set; } = "metering";
    /// <summary>
    /// Most messages taken in one batch (one journal write per account per batch). Large, because
    /// with thousands of active accounts a small batch gives each account one or two events and the
    /// journal a row per event; a batch only grows this big when the consumer is behind.
    /// </summary>
    public int MaxBatchSize { get; set; } = 200_000;
    /// <summary>How long a batch waits to fill once it has its first message.</summary>
    public TimeSpan MaxBatchWait { get; set; } = TimeSpan.FromMilliseconds(20);
    /// <summary>
    /// How long the broker may hold a fetch that finds no new records (librdkafka's
    /// <c>fetch.wait.max.ms</c>). Null: 10 ms on the embedded broker, librdkafka's 500 ms on a real one.
    /// A real broker answers as soon as a record arrives; the embedded one (librdkafka's mock cluster)
    /// answers an empty fetch only after the whole wait, records produced meanwhile included, so at
    /// 1,000 events/s its 500 ms made batches of ~450 records every half second and a p99
    /// event-to-balance latency of 545 ms; 10 ms gave 45 ms (docs/benchmarks.md, session 13).
    /// </summary>
    public TimeSpan? FetchWait { get; set; }
    /// <summary>
    /// Most accounts asked to persist at the same time, over all batches in flight. A batch may span
    /// every account (10,000 cold ones, each a recovery and a journal row): asked all at once, the last
    /// ones wait in the journal's queue past its call timeout and the ask timeout, and the whole batch
    /// is retried. A window keeps the journal's queue short and each account's wait its own.
    /// </summary>
    public int MaxAccountsInFlight { get; set; } = 1_000;
    /// <summary>
    /// Batches read and handed to the accounts before the oldest has persisted; offsets are still
    /// committed in order, and a failed batch is read again with those after it. Two: the consumer's
    /// thread reads and parses the next batch on one core while the accounts persist this one on the
    /// other (10,000 accounts, 1M events, two cores: 40,600 against 39,500 events/s on average, warm
    /// half 58,000 against 50,200, 6 runs each; docs/benchmarks.md, session 12). When parsing was
    /// cheap next to persisting, 2 did not pay (session 6).
    /// </summary>
    public int MaxBatchesInFlight { get; set; } = 2;
    /// <summary>
    /// How long the group waits for a silent consumer (a crashed node) before giving its partitions to
    /// the others. A node that stops gracefully leaves the group at once; this only bounds a crash.
    /// </summary>
    public TimeSpan SessionTimeout { get; set; } = TimeSpan.FromSeconds(45);
    /// <summary>On shutdown, how long the batch in flight may take to persist so its offsets are committed before the node leaves the group.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// Readiness turns red when records wait for this node (lag, or a batch in hand) and no batch was
    /// committed for this long: the node holds partitions it cannot move forward (journal down, shards
    /// not answering). Longer than a slow batch's retries (ask timeout plus backoff), or it flaps.
    /// </summary>
    public TimeSpan StuckAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary><see cref="FetchWait"/>, or its default for the kind of broker.</summary>
    public TimeSpan FetchWaitOn(bool embeddedBroker) => FetchWait ?? TimeSpan.FromMilliseconds(embeddedBroker ? 10 : 500);
}

/// <summary>The Kafka the engine actually talks to, once resolved, and the usage topic's real partition count. Owns the embedded broker, if any.</summary>
public sealed record KafkaEndpoint(string BootstrapServers, bool Embedded, int UsagePartitions) : IDisposable
{
    internal EmbeddedKafkaBroker? Broker { get; init; }

    /// <summary>What the consumer adds to a record's offset for the accounts: 0 on Kafka, a range of this start's own with the embedded broker (<see cref="EmbeddedBrokerEpochs"/>).</summary>
    public long OffsetBase { get; init; }

    /// <summary>A broker offset as the accounts see it (records and committed watermarks alike); commits and dead letters keep the broker's own.</summary>
    public KafkaPosition PositionOf(int partition, long offset) => new(partition, OffsetBase + offset);

    public void Dispose() => Broker?.Dispose();
}
