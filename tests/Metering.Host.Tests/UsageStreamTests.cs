using System.Text;
using Confluent.Kafka;
using Metering.Ingestion.Kafka;

namespace Metering.Host.Tests;

/// <summary>The spine end to end: Kafka -> consumer -> sharded persistent accounts -> SQLite -> HTTP.</summary>
public sealed class UsageStreamTests : IDisposable
{
    private const string UsageTopic = "metering.usage";
    private const string DeadLetterTopic = "metering.usage.dlq";

    private readonly EmbeddedKafkaBroker _kafka;
    private readonly TempDir _data = new();

    public UsageStreamTests()
    {
        _kafka = TestBackends.StartKafka();
    }

    public void Dispose()
    {
        _kafka.Dispose();
        _data.Dispose();
    }

    [Fact]
    public async Task Ten_thousand_events_with_duplicates_and_invalid_ones_give_exact_counts_and_dead_letters()
    {
        var stream = UsageStream.Generate(seed: 42, count: 10_000, accounts: 100, duplicateRate: 0.05, invalidRate: 0.02);
        Assert.InRange(stream.Duplicates, 400, 600);
        Assert.InRange(stream.ExpectedReasons.Count, 150, 250);

        await using var host = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers);
        await stream.ProduceAsync(_kafka.BootstrapServers, UsageTopic);
        await stream.WaitUntilCountedAsync(host, TimeSpan.FromSeconds(120));
        await stream.AssertExactAsync(host);

        var reasons = ReadDeadLetters(stream.ExpectedReasons.Count);
        Assert.Equal(stream.ExpectedReasons.Order(), reasons.Order());
    }

    [Fact]
    public async Task A_consumer_that_dies_before_committing_and_a_host_restart_count_nothing_twice()
    {
        var stream = UsageStream.Generate(seed: 7, count: 2_000, accounts: 20, duplicateRate: 0.05, invalidRate: 0);
        await using (var first = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers))
        {
            await stream.ProduceAsync(_kafka.BootstrapServers, UsageTopic);
            await stream.WaitUntilCountedAsync(first, TimeSpan.FromSeconds(60));
            await stream.AssertExactAsync(first);
        }

        // The accounts persisted every event. A consumer group with no commits reads the whole topic
        // again: the state a consumer killed between the journal write and the offset commit leaves,
        // at its worst (every offset uncommitted).
        await using var second = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers, consumerGroup: "never-committed");
        // Recovered from the journal with the same numbers, before and after the redelivery is consumed.
        await stream.AssertExactAsync(second);
        var more = UsageStream.Generate(seed: 8, count: 200, accounts: 20, duplicateRate: 0, invalidRate: 0, idPrefix: "later");
        await more.ProduceAsync(_kafka.BootstrapServers, UsageTopic);
        var both = UsageStream.Merge(stream, more);
        await both.WaitUntilCountedAsync(second, TimeSpan.FromSeconds(60));
        await both.AssertExactAsync(second);
    }

    private List<string> ReadDeadLetters(int expected)
    {
        using var consumer = new ConsumerBuilder<string?, byte[]>(new ConsumerConfig
        {
            BootstrapServers = _kafka.BootstrapServers,
            GroupId = "dlq-reader-" + Guid.NewGuid(),
            AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe(DeadLetterTopic);
        var reasons = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (reasons.Count < expected && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(500));
            if (r is null) continue;
            Assert.True(r.Message.Headers.TryGetLastBytes(KafkaHeaders.Reason, out var reason));
            Assert.True(r.Message.Headers.TryGetLastBytes(KafkaHeaders.ReasonDetail, out var detail));
            Assert.NotEmpty(detail);
            // Where the refused record sat, so an operator can find it in the usage topic.
            Assert.True(r.Message.Headers.TryGetLastBytes(KafkaHeaders.SourceTopic, out var topic));
            Assert.Equal(UsageTopic, Encoding.UTF8.GetString(topic));
            Assert.True(r.Message.Headers.TryGetLastBytes(KafkaHeaders.SourceOffset, out var offset));
            Assert.True(long.Parse(Encoding.UTF8.GetString(offset), System.Globalization.CultureInfo.InvariantCulture) >= 0);
            reasons.Add(Encoding.UTF8.GetString(reason));
        }
        // Nothing beyond what was sent.
        Assert.Null(consumer.Consume(TimeSpan.FromSeconds(1)));
        consumer.Close();
        return reasons;
    }
}
