using Confluent.Kafka;
using Metering.Ingestion.Kafka;
using Metering.Tests.Shared;

namespace Metering.Host.Tests;

/// <summary>A PostgreSQL database and an embedded Kafka broker with the engine's topics, both the test's own.</summary>
public sealed class TestBackends : IAsyncDisposable
{
    public const string UsageTopic = "metering.usage";

    private TestBackends(TestPostgresDatabase database, EmbeddedKafkaBroker kafka)
    {
        Database = database;
        Kafka = kafka;
    }

    public TestPostgresDatabase Database { get; }
    public EmbeddedKafkaBroker Kafka { get; }

    public static async Task<TestBackends> StartAsync(int usagePartitions)
    {
        // First, so a machine without the server fails here with the message that says what to do.
        var database = await TestPostgresDatabase.CreateAsync();
        return new TestBackends(database, StartKafka(usagePartitions));
    }

    /// <summary>
    /// An embedded broker of the test's own with the engine's topics, created as the engine would
    /// (a broker that outlives the hosts, as an external Kafka does across engine restarts).
    /// </summary>
    public static EmbeddedKafkaBroker StartKafka(int usagePartitions = 8)
    {
        var kafka = EmbeddedKafkaBroker.Start();
        foreach (var (name, partitions) in KafkaTopics.Specs(new KafkaOptions { UsagePartitions = usagePartitions }))
            kafka.CreateTopic(name, partitions);
        return kafka;
    }

    /// <summary>
    /// Waits until every partition of the usage topic at <paramref name="bootstrapServers"/> starts at
    /// its end, i.e. the embedded broker freed all it held; answers the partitions' watermarks.
    /// </summary>
    public static async Task<WatermarkOffsets[]> UsageFreedAsync(string bootstrapServers, int partitions, TimeSpan timeout, string because)
    {
        using var reader = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrapServers, GroupId = "test-reader" }).Build();
        WatermarkOffsets[] logs = [];
        await Eventually.TrueAsync(() =>
        {
            logs = [.. Enumerable.Range(0, partitions).Select(p => reader.QueryWatermarkOffsets(new TopicPartition(UsageTopic, p), TimeSpan.FromSeconds(5)))];
            return Task.FromResult(logs.All(w => w.Low == w.High));
        }, timeout, because);
        return logs;
    }

    public async ValueTask DisposeAsync()
    {
        Kafka.Dispose();
        await Database.DisposeAsync();
    }
}
