using Metering.Domain.Meters;
using Metering.Ingestion.CloudEvents;
using Metering.Ingestion.Consumer;
using Metering.Ingestion.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Metering.Ingestion;

/// <summary>One meter as configured under <c>Metering:Meters</c>.</summary>
public sealed class MeterOptions
{
    public string Key { get; set; } = "";
    public string EventType { get; set; } = "";
    public string ValuePath { get; set; } = MeterDefinition.DefaultValuePath;
    public MeterAggregation Aggregation { get; set; } = MeterAggregation.Sum;
    public bool AllowFractional { get; set; }
}

public static class IngestionServiceCollectionExtensions
{
    /// <summary>
    /// Kafka in and out: the endpoint (embedded broker when none is configured), the topics, the
    /// producer, the usage parser and the consumer that feeds the accounts.
    /// </summary>
    /// <param name="dataDir">The engine's data folder, where the embedded broker's starts are counted (<see cref="EmbeddedBrokerEpochs"/>).</param>
    public static IServiceCollection AddMeteringIngestion(this IServiceCollection services, IConfiguration configuration, string dataDir)
    {
        var kafka = configuration.GetSection("Metering:Kafka").Get<KafkaOptions>() ?? new KafkaOptions();
        services.AddSingleton(kafka);
        services.AddSingleton(_ => ResolveEndpoint(kafka, dataDir));
        services.AddSingleton(MeterCatalogFrom(configuration));
        services.AddSingleton(UsageEventLimits.Default);
        services.AddSingleton<UsageEventParser>();
        services.AddSingleton<MeteringProducer>();
        services.AddSingleton<IngestionMetrics>();
        services.AddSingleton(_ => new IngestionStatus(TimeProvider.System));
        services.AddSingleton<UsageBatchProcessor>();
        services.AddHostedService<UsageConsumerService>();
        return services;
    }

    public static MeterCatalog MeterCatalogFrom(IConfiguration configuration)
    {
        var configured = configuration.GetSection("Metering:Meters").Get<MeterOptions[]>();
        return configured is { Length: > 0 }
            ? new MeterCatalog(configured.Select(m => new MeterDefinition(m.Key, m.EventType, m.ValuePath, m.Aggregation, m.AllowFractional)))
            : MeterCatalog.Default;
    }

    private static KafkaEndpoint ResolveEndpoint(KafkaOptions kafka, string dataDir)
    {
        if (!string.IsNullOrWhiteSpace(kafka.BootstrapServers))
        {
            EmbeddedBrokerEpochs.EnsureNeverUsed(dataDir);
            var partitions = KafkaTopics.EnsureAsync(kafka.BootstrapServers, kafka).GetAwaiter().GetResult();
            return new KafkaEndpoint(kafka.BootstrapServers, Embedded: false, partitions);
        }
        var offsetBase = EmbeddedBrokerEpochs.NextOffsetBase(dataDir);
        var broker = EmbeddedKafkaBroker.StartForEngine(kafka);
        return new KafkaEndpoint(broker.BootstrapServers, Embedded: true, kafka.UsagePartitions) { Broker = broker, OffsetBase = offsetBase };
    }
}
