using Confluent.Kafka;
using Metering.Accounts.Cluster;
using Metering.Domain.Usage;
using Metering.Ingestion.Kafka;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Metering.Ingestion.Consumer;

/// <summary>
/// Reads the usage topic in batches, hands each batch to <see cref="UsageBatchProcessor"/>, and
/// commits the batch's offsets only after it returned: at-least-once from Kafka, exactly-once in the
/// accounts. A batch that fails is rewound and retried, so no accepted event is ever skipped.
/// </summary>
public sealed class UsageConsumerService(
    KafkaEndpoint endpoint,
    KafkaOptions options,
    UsageBatchProcessor processor,
    PartitionShardPlacement placement,
    IngestionStatus status,
    IngestionMetrics metrics,
    ILogger<UsageConsumerService> log) : BackgroundService
{
    private static readonly TimeSpan PollTimeout = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan BrokerQueryTimeout = TimeSpan.FromSeconds(10);
    private const int RetriesBeforeError = 3;
    // Batches applied and waiting for their accounts to write behind (Metering:Accounts:WriteBehind)
    // stay in the pipeline until then. Records in it, in batches of the largest size: bounds the usage
    // the accounts hold unwritten when their writes fall behind.
    private const int MaxUncommittedBatchSizes = 4;

    // Touched on the consumer thread only (Consume, and the rebalance handlers it runs).
    private readonly RetentionGaps _gaps = new();
    private readonly Dictionary<int, long> _committed = new();
    private int _failures;

    // Confluent's consumer is blocking: it gets a thread of its own rather than a pool thread.
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>The usage consumer's settings; the benchmark reads the same topic with them to measure the ceiling.</summary>
    public static ConsumerConfig ConsumerConfig(string bootstrapServers, bool embeddedBroker, KafkaOptions options) => new()
    {
        BootstrapServers = bootstrapServers,
        FetchWaitMaxMs = (int)options.FetchWaitOn(embeddedBroker).TotalMilliseconds,
        GroupId = options.ConsumerGroup,
        EnableAutoCommit = false,
        AutoOffsetReset = AutoOffsetReset.Earliest,
        EnablePartitionEof = false,
        SessionTimeoutMs = (int)options.SessionTimeout.TotalMilliseconds,
        HeartbeatIntervalMs = (int)Math.Min(3_000, options.SessionTimeout.TotalMilliseconds / 3),
        // Not the topic: it is always the usage topic, and its name was marshalled into a new string for every record.
        ConsumeResultFields = "headers,timestamp",
    };

    private void Run(CancellationToken ct)
    {
        Librdkafka.EnsureLoaded();
        // A stop gives the batches in flight DrainTimeout to persist, so a graceful leave commits
        // what it persisted and hands over clean offsets (the host stops this service before Akka,
        // so the shard region is still there to answer).
        using var drain = new CancellationTokenSource();
        using var onStop = ct.Register(() => drain.CancelAfter(options.DrainTimeout));
        var pipeline = new Queue<BatchInFlight>();
        using var consumer = new ConsumerBuilder<string?, ArraySegment<byte>>(ConsumerConfig(endpoint.BootstrapServers, endpoint.Embedded, options))
            .SetValueDeserializer(new ReusedValueDeserializer())
            .SetPartitionsAssignedHandler((c, parts) =>
            {
                log.LogInformation("Usage partitions assigned: {Partitions}", string.Join(',', parts.Select(p => p.Partition.Value)));
                ExpectCommitted(c, parts);
                status.Assigned(c.Assignment.Concat(parts).Select(p => p.Partition.Value));
                placement.Claim(parts.Select(p => p.Partition.Value));
            })
            .SetPartitionsRevokedHandler((c, parts) =>
            {
                log.LogInformation("Usage partitions revoked: {Partitions}", string.Join(',', parts.Select(p => p.Partition.Value)));
                // Commit what is persisted while the partitions are still ours; a batch that fails is
                // read again by the next owner from the committed offsets.
                processor.WriteNow();
                if (Settle(c, pipeline, keep: 0) is { } failure)
                    log.LogWarning(failure.Error, "A usage batch failed while its partitions were revoked; their next owner reads it again");
                status.Revoked(parts.Select(p => p.Partition.Value));
                metrics.Revoked(parts);
                foreach (var p in parts)
                {
                    _gaps.Forget(p.Partition.Value);
                    _committed.Remove(p.Partition.Value);
                }
            })
            .SetErrorHandler((_, e) => log.LogWarning("Kafka consumer: {Reason}", e.Reason))
            .Build();

        consumer.Subscribe(options.UsageTopic);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                // Commit what finished, in order; when the pipeline is full, wait for its oldest batch.
                if (Settle(consumer, pipeline, Math.Max(1, options.MaxBatchesInFlight)) is { } failure)
                {
                    if (ct.IsCancellationRequested)
                    {
                        // Not committed: the next owner of these partitions reads them again and the accounts drop what they already hold.
                        log.LogWarning("Stopping with usage batches not persisted within {Drain}; their next owner will read them again", options.DrainTimeout);
                        break;
                    }
                    // One failure is usual while shards move (Akka drops what a region buffered for a
                    // shard handed off, so that batch's Ask times out) and the retry succeeds; a batch
                    // that keeps failing is an error (and readiness turns red: consumer stuck).
                    var backoff = TimeSpan.FromMilliseconds(Math.Min(100 << Math.Min(_failures, 7), 10_000));
                    log.Log(++_failures < RetriesBeforeError ? LogLevel.Warning : LogLevel.Error, failure.Error,
                        "Usage batch of {Count} failed ({Failures} in a row); rewinding to retry in {Backoff}", failure.Batch.Count, _failures, backoff);
                    Rewind(consumer, failure.Later.Prepend(failure.Batch));
                    ct.WaitHandle.WaitOne(backoff);
                    continue;
                }
                if (Start(consumer, pipeline, ct, drain.Token) is { } started) pipeline.Enqueue(started);
                // Quiet: what the accounts applied ahead of their journals is written now, not at the end of their interval.
                else if (pipeline.Count > 0) processor.WriteNow();
            }
            processor.WriteNow();
            if (Settle(consumer, pipeline, keep: 0) is not null)
                log.LogWarning("Stopping with usage batches not persisted within {Drain}; their next owner will read them again", options.DrainTimeout);
        }
        finally
        {
            status.Left();
            consumer.Close();
        }
    }

    /// <summary>
    /// Reads a batch, each record parsed as it is read, and hands it to the processor: the pipeline
    /// keeps only the batch's offsets.
    /// </summary>
    private BatchInFlight? Start(IConsumer<string?, ArraySegment<byte>> consumer, Queue<BatchInFlight> pipeline, CancellationToken ct, CancellationToken drain)
    {
        var batch = Collect(consumer, ct, drain);
        status.Polled((batch?.Count ?? 0) + pipeline.Sum(b => b.Batch.Count), metrics.SampleLag(consumer));
        return batch is null ? null : new BatchInFlight(batch.Offsets, processor.ProcessAsync(batch, CommittedPositions()));
    }

    /// <summary>A batch handed to the processor and not committed yet.</summary>
    private sealed record BatchInFlight(BatchOffsets Batch, BatchWork Work)
    {
        public bool Applying => !Work.Applied.IsCompleted;
    }

    /// <summary>The oldest batch in flight that failed, the batches read after it, and why.</summary>
    private sealed record BatchFailure(BatchOffsets Batch, List<BatchOffsets> Later, Exception Error);

    /// <summary>
    /// Commits the finished batches at the head of the pipeline; returns once fewer than
    /// <paramref name="keep"/> are still being applied (and the pipeline has room), waiting for them
    /// as needed, or with <paramref name="keep"/> 0 once the pipeline is empty. Offsets are committed
    /// in the order the batches were read, never past a batch not durable: after a failed one the rest
    /// only finish (they are read again with it) and the pipeline is empty.
    /// </summary>
    private BatchFailure? Settle(IConsumer<string?, ArraySegment<byte>> consumer, Queue<BatchInFlight> pipeline, int keep)
    {
        while (pipeline.TryPeek(out var head))
        {
            if (!head.Work.Done.IsCompleted && keep > 0 && pipeline.Sum(b => (long)b.Batch.Count) < (long)MaxUncommittedBatchSizes * options.MaxBatchSize)
            {
                var applying = pipeline.Where(b => b.Applying).Select(b => b.Work.Applied).ToArray();
                if (applying.Length < keep) return null;
                Task.WaitAny(applying);
                continue;
            }
            pipeline.Dequeue();
            try
            {
                var outcome = head.Work.Done.GetAwaiter().GetResult();
                Commit(consumer, head.Batch);
                status.Committed();
                _failures = 0;
                log.LogDebug("Batch of {Count}: {Outcome}", head.Batch.Count, outcome);
            }
            catch (Exception e)
            {
                var later = pipeline.ToList();
                pipeline.Clear();
                foreach (var rest in later)
                {
                    try { rest.Work.Done.GetAwaiter().GetResult(); }
                    catch (Exception) { /* read again after the failed batch, whatever became of it */ }
                }
                return new BatchFailure(head.Batch, later.Select(b => b.Batch).ToList(), e);
            }
        }
        return null;
    }

    /// <summary>The records read within <see cref="KafkaOptions.MaxBatchWait"/> of the first, up to <see cref="KafkaOptions.MaxBatchSize"/>; null when none came.</summary>
    private UsageBatch? Collect(IConsumer<string?, ArraySegment<byte>> consumer, CancellationToken ct, CancellationToken drain)
    {
        var first = consumer.Consume(PollTimeout);
        if (first is null) return null;
        var batch = processor.Begin(drain);
        Add(consumer, batch, first);
        var deadline = DateTime.UtcNow + options.MaxBatchWait;
        while (batch.Count < options.MaxBatchSize && !ct.IsCancellationRequested)
        {
            var left = deadline - DateTime.UtcNow;
            var next = consumer.Consume(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            if (next is null) break;
            Add(consumer, batch, next);
        }
        return batch;
    }

    private void Add(IConsumer<string?, ArraySegment<byte>> consumer, UsageBatch batch, ConsumeResult<string?, ArraySegment<byte>> record)
    {
        processor.Add(batch, record);
        if (_gaps.Skipped(record.Partition.Value, record.Offset.Value) is not { } expected) return;
        // Rare (a gap): only then a broker round trip for where the log starts now.
        var logStart = consumer.QueryWatermarkOffsets(new TopicPartition(options.UsageTopic, record.Partition), BrokerQueryTimeout).Low.Value;
        var lost = RetentionGaps.Lost(expected, record.Offset.Value, logStart);
        if (lost == 0) return;
        metrics.Lost(record.Partition.Value, lost);
        log.LogError("{Lost} usage records on {Topic} [{Partition}] before offset {Offset} were deleted by the broker before this node read them (the topic's retention is shorter than the engine was behind): that usage is lost",
            lost, options.UsageTopic, record.Partition.Value, record.Offset.Value);
    }

    /// <summary>Where the group left off on newly assigned partitions: what <see cref="RetentionGaps"/> expects first.</summary>
    private void ExpectCommitted(IConsumer<string?, ArraySegment<byte>> consumer, List<TopicPartition> partitions)
    {
        try
        {
            foreach (var committed in consumer.Committed(partitions, BrokerQueryTimeout))
            {
                if (committed.Offset.Value < 0) continue;
                _gaps.Expect(committed.Partition.Value, committed.Offset.Value);
                _committed[committed.Partition.Value] = committed.Offset.Value;
            }
        }
        catch (KafkaException e)
        {
            // Without it only gaps while this node reads are noticed, not one since the last commit.
            log.LogWarning("Could not read the committed offsets of the assigned partitions ({Reason})", e.Error.Reason);
        }
    }

    /// <summary>The group's committed offsets this node knows, which the accounts take as done below (see <c>TakenOffsets</c>).</summary>
    private KafkaPosition[] CommittedPositions() => _committed.Select(kv => endpoint.PositionOf(kv.Key, kv.Value)).ToArray();

    private void Commit(IConsumer<string?, ArraySegment<byte>> consumer, BatchOffsets batch)
    {
        var assigned = AssignedPartitions(consumer);
        var offsets = batch.Ranges
            .Where(r => assigned.Contains(r.Partition))
            .Select(r => new TopicPartitionOffset(options.UsageTopic, r.Partition, new Offset(r.Last + 1)))
            .ToList();
        if (offsets.Count == 0) return;
        try
        {
            consumer.Commit(offsets);
            foreach (var o in offsets) _committed[o.Partition.Value] = Math.Max(_committed.GetValueOrDefault(o.Partition.Value), o.Offset.Value);
        }
        catch (KafkaException e)
        {
            // Lost the partition in a rebalance: its new owner re-reads from the last commit and the
            // accounts drop what they already persisted, so nothing is counted twice.
            log.LogWarning("Offset commit failed ({Reason}); the batch will be redelivered and deduplicated", e.Error.Reason);
        }
    }

    private void Rewind(IConsumer<string?, ArraySegment<byte>> consumer, IEnumerable<BatchOffsets> batches)
    {
        var assigned = AssignedPartitions(consumer);
        foreach (var g in batches.SelectMany(b => b.Ranges).GroupBy(r => r.Partition, r => r.First).Where(g => assigned.Contains(g.Key)))
        {
            var partition = new TopicPartition(options.UsageTopic, g.Key);
            var from = g.Min();
            consumer.Seek(new TopicPartitionOffset(partition, new Offset(from)));
            _gaps.Expect(g.Key, from);
        }
    }

    // The consumer subscribes to the usage topic alone, so a partition number names a partition.
    private static HashSet<int> AssignedPartitions(IConsumer<string?, ArraySegment<byte>> consumer) =>
        consumer.Assignment.Select(p => p.Partition.Value).ToHashSet();
}
