using Confluent.Kafka;

namespace Metering.Ingestion.Kafka;

/// <summary>
/// The engine's one Kafka producer (HTTP ingest and dead letters). Idempotent with acks=all, so an
/// acknowledged record is on the broker once; murmur2_random partitions like Java clients do, so an
/// account lands on the same partition whoever produced it.
/// </summary>
public sealed class MeteringProducer : IDisposable
{
    private readonly IProducer<string?, byte[]> _producer;

    public MeteringProducer(KafkaEndpoint endpoint)
    {
        Librdkafka.EnsureLoaded();
        _producer = new ProducerBuilder<string?, byte[]>(new ProducerConfig
        {
            BootstrapServers = endpoint.BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            Partitioner = Partitioner.Murmur2Random,
            LingerMs = 2,
        }).Build();
    }

    /// <summary>Produces with the current trace context in the headers, so the consumer continues the trace.</summary>
    public Task<DeliveryResult<string?, byte[]>> ProduceAsync(string topic, string? key, byte[] value, Headers? headers = null, CancellationToken ct = default) =>
        _producer.ProduceAsync(topic, new Message<string?, byte[]> { Key = key, Value = value, Headers = KafkaTraceContext.Inject(headers) }, ct);

    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(10));
        _producer.Dispose();
    }
}
