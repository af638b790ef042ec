using System.Diagnostics;
using Confluent.Kafka;
using Metering.Ingestion.Kafka;

namespace Metering.LoadGen;

/// <summary>What a production run achieved; <paramref name="Failed"/> is null when deliveries were not reported.</summary>
public sealed record ProduceSummary(long Events, TimeSpan Elapsed, long? Failed)
{
    public double Rate => Events / Math.Max(Elapsed.TotalSeconds, 1e-9);
}

/// <summary>Produces a <see cref="UsageMix"/> to a topic, flat out or at a fixed rate, with a progress line.</summary>
public static class LoadProducer
{
    /// <summary>librdkafka's default, and the Java client's since Kafka 4.0.</summary>
    public const int DefaultLingerMs = 5;

    public static ProducerConfig Config(string bootstrapServers, int lingerMs, bool reportDeliveries) => new()
    {
        BootstrapServers = bootstrapServers,
        // Like the engine's own producers and Java clients, so an account stays on one partition.
        Partitioner = Partitioner.Murmur2Random,
        Acks = Acks.Leader,
        LingerMs = lingerMs,
        BatchSize = 1_000_000,
        QueueBufferingMaxMessages = 1_000_000,
        // Failures are all a run counts: a report that copied back each message's key, value and
        // headers allocated for every event, in the process the benchmark measures.
        DeliveryReportFields = "status",
        EnableDeliveryReports = reportDeliveries,
    };

    /// <param name="rate">Events per second; 0 or less is flat out.</param>
    /// <param name="progress">Where the progress line goes (a carriage-return line each second), or null for none.</param>
    /// <param name="lingerMs">How long the producer waits to fill a message set (librdkafka's <c>linger.ms</c>).</param>
    /// <param name="reportDeliveries">
    /// Whether failures are counted. Each report is about 10 % of the bytes the benchmark's process
    /// allocates at 20,000 events/s (a message, an error, a position), which the engine's collector
    /// pays for; reports of failures alone would leak Confluent's per-message handle (its issues
    /// #201, #583). The latency phase goes without: the engine counting every event is its check.
    /// </param>
    public static ProduceSummary Run(string bootstrapServers, string topic, UsageMix mix, long events, double rate, TextWriter? progress, CancellationToken ct,
        int lingerMs = DefaultLingerMs, bool reportDeliveries = true)
    {
        Librdkafka.EnsureLoaded();
        long failed = 0;
        using var producer = new ProducerBuilder<string, byte[]>(Config(bootstrapServers, lingerMs, reportDeliveries)).Build();
        Action<DeliveryReport<string, byte[]>>? onDelivery = reportDeliveries
            ? r =>
            {
                if (r.Error.IsError) Interlocked.Increment(ref failed);
            }
            : null;
        // One of each for the run: Produce copies the key and value and keeps neither (reports carry the status alone).
        var target = new TopicPartition(topic, Partition.Any);
        var message = new Message<string, byte[]> { Key = "", Value = [] };
        var clock = Stopwatch.StartNew();
        var lastReport = TimeSpan.Zero;
        long sent = 0;
        while (sent < events && !ct.IsCancellationRequested)
        {
            if (rate > 0)
            {
                // Pace against the start, not the previous event: a late loop catches up instead of drifting.
                var due = TimeSpan.FromSeconds(sent / rate);
                var wait = due - clock.Elapsed;
                if (wait > TimeSpan.FromMilliseconds(1)) Thread.Sleep(wait);
            }
            (message.Key, message.Value) = mix.Next(DateTimeOffset.UtcNow);
            try
            {
                producer.Produce(target, message, onDelivery);
                sent++;
            }
            catch (ProduceException<string, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                producer.Poll(TimeSpan.FromMilliseconds(50));
            }
            if (progress is not null && clock.Elapsed - lastReport >= TimeSpan.FromSeconds(1))
            {
                lastReport = clock.Elapsed;
                progress.Write($"\rproduced {sent:N0}/{events:N0}  {sent / clock.Elapsed.TotalSeconds:N0} events/s   ");
            }
        }
        producer.Flush(TimeSpan.FromMinutes(2));
        progress?.WriteLine();
        return new ProduceSummary(sent, clock.Elapsed, reportDeliveries ? Interlocked.Read(ref failed) : null);
    }
}
