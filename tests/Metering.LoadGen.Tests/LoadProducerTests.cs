using Confluent.Kafka;
using Metering.Domain.Meters;
using Metering.Domain.Usage;
using Metering.Ingestion.CloudEvents;
using Metering.Ingestion.Kafka;

namespace Metering.LoadGen.Tests;

public sealed class LoadProducerTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Every_event_arrives_once_keyed_by_its_account_whether_or_not_deliveries_are_reported(bool reportDeliveries)
    {
        const int events = 2_000;
        using var broker = EmbeddedKafkaBroker.Start();
        const string topic = "usage";
        broker.CreateTopic(topic, 4);

        var summary = LoadProducer.Run(broker.BootstrapServers, topic, new UsageMix(100, 3, "p"), events, 0, null, CancellationToken.None,
            reportDeliveries: reportDeliveries);

        Assert.Equal(events, summary.Events);
        Assert.Equal(reportDeliveries ? 0 : null, summary.Failed);
        // The producer reuses one message for the run: each record must still be the event made for it.
        var parser = new UsageEventParser(MeterCatalog.Default, UsageEventLimits.Default);
        var ids = Consume(broker.BootstrapServers, topic, events).Select(record =>
        {
            var parsed = parser.Parse(record.Message.Value, record.Message.Key, new KafkaPosition(record.Partition.Value, record.Offset.Value), DateTimeOffset.UtcNow);
            Assert.True(parsed.IsValid, parsed.Rejection?.Detail);
            Assert.Equal(record.Message.Key, parsed.AccountId);
            return parsed.Record!.EventId;
        }).ToList();
        Assert.Equal(Enumerable.Range(0, events).Select(i => $"p-{i}").Order(), ids.Order());
    }

    private static List<ConsumeResult<string, byte[]>> Consume(string bootstrapServers, string topic, int count)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = $"test-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(topic);
        var records = new List<ConsumeResult<string, byte[]>>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (records.Count < count && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { IsPartitionEOF: false } record) records.Add(record);
        }
        // Nothing more than what was produced: a second read of the topic would show as a duplicate id above.
        Assert.Null(consumer.Consume(TimeSpan.FromMilliseconds(500)));
        consumer.Close();
        return records;
    }
}
