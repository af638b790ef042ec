using System.Diagnostics;
using Confluent.Kafka;
using Metering.Ingestion.Kafka;

namespace Metering.Ingestion.Tests.Kafka;

/// <summary>Runs real Kafka clients (Confluent.Kafka and kcat) against the embedded mock broker.</summary>
public sealed class EmbeddedKafkaBrokerTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Consumer_group_commit_is_remembered_by_the_next_consumer_of_the_group()
    {
        using var broker = EmbeddedKafkaBroker.Start();
        const string topic = "usage-group-test";
        const string groupId = "metering-group-test";
        const int count = 200;
        broker.CreateTopic(topic, 8);

        using var producer = NewProducer(broker);
        var first = await ProduceAsync(producer, topic, Enumerable.Range(0, count).Select(i => ($"account-{i % 37}", $"old-{i}")));
        Assert.True(first.Select(r => r.Partition.Value).Distinct().Count() > 1, "murmur2_random should spread keys over the 8 partitions");

        using (var consumer = NewConsumer(broker, groupId))
        {
            consumer.Subscribe(topic);
            var seen = ConsumeUntil(consumer, count);
            Assert.Equal(Enumerable.Range(0, count).Select(i => $"old-{i}").Order(), seen.Select(m => m.Message.Value).Order());

            var committed = consumer.Commit();
            // Every partition started at offset 0, so the committed offsets add up to the number of messages.
            Assert.Equal(count, committed.Where(c => c.Offset.Value >= 0).Sum(c => c.Offset.Value));
            consumer.Close();
        }

        var later = await ProduceAsync(producer, topic, Enumerable.Range(0, 5).Select(i => ($"account-{i}", $"new-{i}")));
        Assert.Equal(5, later.Count);

        using (var consumer = NewConsumer(broker, groupId))
        {
            consumer.Subscribe(topic);
            var seen = ConsumeUntil(consumer, 5);
            // Anything left over would have arrived by now; give it a moment anyway.
            seen.AddRange(ConsumeFor(consumer, TimeSpan.FromSeconds(1)));
            Assert.Equal(Enumerable.Range(0, 5).Select(i => $"new-{i}").Order(), seen.Select(m => m.Message.Value).Order());
            consumer.Close();
        }
    }

    [Fact]
    public async Task Records_the_group_committed_past_are_freed_and_nothing_after_them()
    {
        using var broker = EmbeddedKafkaBroker.Start();
        const string topic = "usage-free-test";
        broker.CreateTopic(topic, 2);
        broker.FreeCommitted(topic, "engine");

        using var producer = NewProducer(broker);
        foreach (var partition in new[] { 0, 1 })
            for (var i = 0; i < 10; i++)
                await producer.ProduceAsync(new TopicPartition(topic, partition), new Message<string, string> { Key = "k", Value = $"p{partition}-{i}" });

        using (var engine = NewConsumer(broker, "engine"))
            engine.Commit([new TopicPartitionOffset(topic, 0, 6)]);
        // Another group's progress frees nothing: only the engine's commits say a record is durable.
        using (var other = NewConsumer(broker, "other"))
            other.Commit([new TopicPartitionOffset(topic, 1, 9)]);

        using var reader = NewConsumer(broker, "reader");
        var clock = Stopwatch.StartNew();
        while (LogStart(reader, topic, 0) != 6)
        {
            Assert.True(clock.Elapsed < Deadline, $"partition 0 still starts at {LogStart(reader, topic, 0)}");
            await Task.Delay(EmbeddedKafkaBroker.FreeInterval);
        }
        // A few more rounds of freeing, with nothing new committed, change nothing.
        await Task.Delay(EmbeddedKafkaBroker.FreeInterval * 4);
        Assert.Equal(6, LogStart(reader, topic, 0));
        Assert.Equal(0, LogStart(reader, topic, 1));

        reader.Subscribe(topic);
        var read = ConsumeUntil(reader, 14).Select(r => r.Message.Value).Order(StringComparer.Ordinal);
        string[] kept = [.. Enumerable.Range(6, 4).Select(i => $"p0-{i}"), .. Enumerable.Range(0, 10).Select(i => $"p1-{i}")];
        Assert.Equal(kept, read);
        reader.Close();
    }

    private static long LogStart(IConsumer<string, string> consumer, string topic, int partition) =>
        consumer.QueryWatermarkOffsets(new TopicPartition(topic, partition), Deadline).Low.Value;

    [Fact]
    public async Task Kcat_produces_a_keyed_message_a_confluent_consumer_reads()
    {
        const string kcat = "/usr/bin/kcat";
        Assert.True(File.Exists(kcat), $"{kcat} is missing (apt-get install -y kcat)");

        using var broker = EmbeddedKafkaBroker.Start();
        const string topic = "usage-kcat-test";
        broker.CreateTopic(topic, 8);

        var psi = new ProcessStartInfo(kcat)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-P", "-b", broker.BootstrapServers, "-t", topic, "-K:" })
            psi.ArgumentList.Add(arg);

        using (var process = Process.Start(psi) ?? throw new InvalidOperationException("kcat did not start"))
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.StandardInput.WriteLineAsync("acct-42:{\"units\":7}");
            process.StandardInput.Close();

            using var timeout = new CancellationTokenSource(Deadline);
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                Assert.Fail($"kcat did not exit within {Deadline}: {await stderr}");
            }
            Assert.True(process.ExitCode == 0, $"kcat exited with {process.ExitCode}: {await stderr}{await stdout}");
        }

        using var consumer = NewConsumer(broker, "metering-kcat-test");
        consumer.Subscribe(topic);
        var message = Assert.Single(ConsumeUntil(consumer, 1));
        Assert.Equal("acct-42", message.Message.Key);
        Assert.Equal("{\"units\":7}", message.Message.Value);
        consumer.Close();
    }

    [Fact]
    public void Creating_an_existing_topic_names_the_librdkafka_error_and_dispose_is_idempotent()
    {
        var broker = EmbeddedKafkaBroker.Start(brokerCount: 3);
        Assert.Equal(3, broker.BootstrapServers.Split(',').Length);
        broker.CreateTopic("twice", 2);
        var error = Assert.Throws<InvalidOperationException>(() => broker.CreateTopic("twice", 2));
        Assert.Contains("TOPIC_ALREADY_EXISTS", error.Message);

        broker.Dispose();
        broker.Dispose();
        Assert.Throws<ObjectDisposedException>(() => broker.CreateTopic("after-dispose", 1));
    }

    private static IProducer<string, string> NewProducer(EmbeddedKafkaBroker broker)
    {
        Librdkafka.EnsureLoaded();
        return new ProducerBuilder<string, string>(new ProducerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            Partitioner = Partitioner.Murmur2Random,
            Acks = Acks.All,
            MessageTimeoutMs = (int)Deadline.TotalMilliseconds,
        }).Build();
    }

    private static IConsumer<string, string> NewConsumer(EmbeddedKafkaBroker broker, string groupId)
    {
        Librdkafka.EnsureLoaded();
        return new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = broker.BootstrapServers,
            GroupId = groupId,
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            // The mock's classic group coordinator, after the last member leaves, waits
            // session.timeout.ms - 1 s before it lets the next member in (44 s with the default 45 s).
            SessionTimeoutMs = 6_000,
        }).Build();
    }

    private static async Task<List<DeliveryResult<string, string>>> ProduceAsync(
        IProducer<string, string> producer, string topic, IEnumerable<(string Key, string Value)> messages)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        var results = await Task.WhenAll(messages.Select(m =>
            producer.ProduceAsync(topic, new Message<string, string> { Key = m.Key, Value = m.Value }, timeout.Token)));
        Assert.All(results, r => Assert.Equal(PersistenceStatus.Persisted, r.Status));
        return [.. results];
    }

    /// <summary>Consumes until <paramref name="count"/> messages arrived; fails after <see cref="Deadline"/>.</summary>
    private static List<ConsumeResult<string, string>> ConsumeUntil(IConsumer<string, string> consumer, int count)
    {
        var results = new List<ConsumeResult<string, string>>();
        var clock = Stopwatch.StartNew();
        while (results.Count < count)
        {
            var left = Deadline - clock.Elapsed;
            if (left <= TimeSpan.Zero)
                Assert.Fail($"Only {results.Count} of {count} messages arrived within {Deadline}.");
            var result = consumer.Consume(left < TimeSpan.FromMilliseconds(500) ? left : TimeSpan.FromMilliseconds(500));
            if (result is { IsPartitionEOF: false, Message: not null })
                results.Add(result);
        }
        return results;
    }

    private static List<ConsumeResult<string, string>> ConsumeFor(IConsumer<string, string> consumer, TimeSpan duration)
    {
        var results = new List<ConsumeResult<string, string>>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result is { IsPartitionEOF: false, Message: not null })
                results.Add(result);
        }
        return results;
    }
}
