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

    public async ValueTask DisposeAsync()
    {
        Kafka.Dispose();
        await Database.DisposeAsync();
    }
}
