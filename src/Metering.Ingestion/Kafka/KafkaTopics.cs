using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Metering.Ingestion.Kafka;

/// <summary>Creates the engine's topics on an external Kafka when they are missing.</summary>
public static class KafkaTopics
{
    /// <returns>The usage topic's partition count: as found when it existed, else as created.</returns>
    public static async Task<int> EnsureAsync(string bootstrapServers, KafkaOptions options)
    {
        Librdkafka.EnsureLoaded();
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers }).Build();
        var existing = admin.GetMetadata(TimeSpan.FromSeconds(30)).Topics
            .Where(t => t.Error.Code == ErrorCode.NoError)
            .ToDictionary(t => t.Topic, t => t.Partitions.Count);
        var usagePartitions = existing.GetValueOrDefault(options.UsageTopic, options.UsagePartitions);
        var missing = Specs(options).Where(t => !existing.ContainsKey(t.Name)).ToList();
        if (missing.Count == 0) return usagePartitions;
        try
        {
            await admin.CreateTopicsAsync(missing.Select(t => new TopicSpecification
            {
                Name = t.Name,
                NumPartitions = t.Partitions,
                ReplicationFactor = -1, // the broker's default
            }));
        }
        catch (CreateTopicsException e) when (e.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
            // Already there: nothing to do.
        }
        return usagePartitions;
    }

    /// <summary>Every topic the engine uses, with its partition count.</summary>
    public static IEnumerable<(string Name, int Partitions)> Specs(KafkaOptions options) =>
    [
        (options.UsageTopic, options.UsagePartitions),
        (options.DeadLetterTopic, 1),
        (options.NotificationsTopic, 1),
    ];
}
