using System.Text;
using Metering.Accounts;
using Metering.Accounts.Cluster;
using Metering.Ingestion.Kafka;

namespace Metering.Ingestion.Tests.Kafka;

/// <summary>
/// With partitions co-located, an account's shard must be the partition the engine's producer really
/// sends its key to, or shards would be placed beside the wrong consumer.
/// </summary>
public sealed class PartitionShardMappingTests
{
    [Theory]
    [InlineData(12)]
    [InlineData(7)]
    public async Task The_colocated_shard_of_an_account_is_the_partition_the_engine_producer_picks_for_its_key(int partitions)
    {
        using var broker = EmbeddedKafkaBroker.Start();
        const string topic = "mapping";
        broker.CreateTopic(topic, partitions);
        using var producer = new MeteringProducer(new KafkaEndpoint(broker.BootstrapServers, Embedded: true, partitions));
        // Every key length modulo 4 (murmur2's tail), up to the longest account id, plus non-ASCII bytes.
        var keys = Enumerable.Range(0, 400).Select(i => $"acct-{i}")
            .Concat(Enumerable.Range(1, 64).Select(n => new string((char)('a' + n % 26), n)))
            .Append("compañía-ü")
            .ToList();

        var delivered = await Task.WhenAll(keys.Select(k => producer.ProduceAsync(topic, k, Encoding.UTF8.GetBytes(k))));

        var extractor = new AccountMessageExtractor(partitions);
        Assert.True(delivered.Select(d => d.Partition.Value).Distinct().Count() == partitions, "the keys should reach every partition");
        Assert.All(delivered, d =>
        {
            Assert.Equal(d.Partition.Value, KafkaPartitioner.Partition(d.Message.Key!, partitions));
            Assert.Equal(AccountMessageExtractor.ShardOf(d.Partition.Value), extractor.ShardId(d.Message.Key!));
        });
    }
}
