using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Confluent.Kafka;

namespace Metering.Ingestion.Consumer;

/// <summary>Counters for the usage stream, exported by OpenTelemetry under the meter name <see cref="MeterName"/>.</summary>
public sealed class IngestionMetrics : IDisposable
{
    public const string MeterName = "Metering.Ingestion";

    /// <summary>From a few milliseconds (one small batch) to a minute (a journal that struggles): the latencies SREs alert on.</summary>
    private static readonly InstrumentAdvice<double> LatencyBuckets = new()
    {
        HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    };

    private readonly Meter _meter;
    private readonly Counter<long> _consumed;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _redelivered;
    private readonly Counter<long> _deadLettered;
    private readonly Counter<long> _lost;
    private readonly Histogram<long> _batchSize;
    private readonly Histogram<double> _persistDuration;
    private readonly Histogram<double> _eventLatency;
    /// <summary>Lag per assigned partition, written by the consumer thread and read by the exporter.</summary>
    private readonly ConcurrentDictionary<int, long> _lag = new();

    public IngestionMetrics(IMeterFactory factory)
    {
        _meter = factory.Create(MeterName);
        _consumed = _meter.CreateCounter<long>("metering.events.consumed", description: "Usage records read from Kafka");
        _accepted = _meter.CreateCounter<long>("metering.events.accepted", description: "Usage events counted on an account");
        _duplicates = _meter.CreateCounter<long>("metering.events.duplicates", description: "Dropped: same CloudEvents (source, id) already counted");
        _redelivered = _meter.CreateCounter<long>("metering.events.redelivered", description: "Dropped: Kafka offset already persisted");
        _deadLettered = _meter.CreateCounter<long>("metering.events.dead_lettered", description: "Invalid events sent to the dead-letter topic");
        _lost = _meter.CreateCounter<long>("metering.events.lost", unit: "{record}",
            description: "Usage records the broker deleted (retention) before this node read them");
        // Exported at zero from the start, so a node's first loss shows as a change, not a new series.
        _lost.Add(0);
        _batchSize = _meter.CreateHistogram<long>("metering.batch.size", unit: "{record}", description: "Records per consumed batch");
        _persistDuration = _meter.CreateHistogram("metering.batch.persist.duration", unit: "s",
            description: "From a batch's first record read (its collection window included) to every account of it persisted and every dead letter acknowledged", advice: LatencyBuckets);
        _eventLatency = _meter.CreateHistogram("metering.events.latency", unit: "s",
            description: "From the record's Kafka timestamp (ingest) to its account's balance reflecting it (persisted too, unless Metering:Accounts:WriteBehind lets accounts write behind): how old the balance is", advice: LatencyBuckets);
        _meter.CreateObservableGauge("metering.consumer.lag", ObserveLag, unit: "{record}",
            description: "Records on an assigned usage partition not yet read by this node (high watermark minus position)");
    }

    public void Consumed(int n)
    {
        _consumed.Add(n);
        _batchSize.Record(n);
    }

    public void Recorded(int accepted, int duplicates, int redelivered)
    {
        _accepted.Add(accepted);
        _duplicates.Add(duplicates);
        _redelivered.Add(redelivered);
    }

    public void Lost(int partition, long records) => _lost.Add(records, new KeyValuePair<string, object?>("partition", partition));

    public void DeadLettered(string reason) => _deadLettered.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>A batch's accounts applied it: how old each record was when its balance reflected it.</summary>
    public void Applied(IEnumerable<TimeSpan> sinceIngested)
    {
        foreach (var latency in sinceIngested) _eventLatency.Record(latency.TotalSeconds);
    }

    public void Persisted(TimeSpan sinceCollected) => _persistDuration.Record(sinceCollected.TotalSeconds);

    /// <summary>Samples lag from the consumer's own fetch state (no broker round trip); called on the consumer thread.</summary>
    /// <returns>The lag over the partitions whose lag is known.</returns>
    public long SampleLag(IConsumer<string?, ArraySegment<byte>> consumer)
    {
        long total = 0;
        foreach (var partition in consumer.Assignment)
        {
            var position = consumer.Position(partition);
            var high = consumer.GetWatermarkOffsets(partition).High;
            // Unknown until the first fetch of the partition answered.
            if (position == Offset.Unset || high == Offset.Unset) continue;
            var lag = Math.Max(0, high.Value - position.Value);
            _lag[partition.Partition.Value] = lag;
            total += lag;
        }
        return total;
    }

    /// <summary>A revoked partition is another node's to report.</summary>
    public void Revoked(IEnumerable<TopicPartitionOffset> partitions)
    {
        foreach (var p in partitions) _lag.TryRemove(p.Partition.Value, out _);
    }

    private IEnumerable<Measurement<long>> ObserveLag() =>
        _lag.Select(kv => new Measurement<long>(kv.Value, new KeyValuePair<string, object?>("partition", kv.Key)));

    public void Dispose() => _meter.Dispose();
}
