using Metering.Ingestion.Consumer;
using Metering.Ingestion.Kafka;

namespace Metering.Ingestion.Tests.Consumer;

public sealed class ConsumerConfigTests
{
    [Theory]
    // The embedded (mock) broker holds an empty fetch for the whole wait, records arriving meanwhile included.
    [InlineData(true, 10)]
    // A real broker answers as soon as a record arrives: librdkafka's default costs no latency.
    [InlineData(false, 500)]
    public void Fetch_wait_defaults_to_what_the_broker_kind_needs(bool embedded, int expectedMs)
    {
        var config = UsageConsumerService.ConsumerConfig("127.0.0.1:9092", embedded, new KafkaOptions());

        Assert.Equal(expectedMs, config.FetchWaitMaxMs);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_configured_fetch_wait_holds_on_either_broker(bool embedded)
    {
        var options = new KafkaOptions { FetchWait = TimeSpan.FromMilliseconds(50) };

        Assert.Equal(50, UsageConsumerService.ConsumerConfig("127.0.0.1:9092", embedded, options).FetchWaitMaxMs);
    }
}
