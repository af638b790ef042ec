using Akka.Cluster.Sharding;
using Metering.Accounts.Cluster;
using Metering.Accounts.Messages;

namespace Metering.Accounts;

/// <summary>
/// Account id is the entity id. The shard is a stable hash of it, or, with partitions co-located
/// (<see cref="ClusterSettings.ColocatePartitions"/>), the Kafka partition the account's usage is
/// produced to, so the node that consumes a partition can host its accounts.
/// </summary>
public sealed class AccountMessageExtractor : HashCodeMessageExtractor
{
    /// <summary>
    /// 100 shards: about ten per node for the largest cluster we plan (10 nodes), which keeps
    /// rebalancing fine-grained without making the coordinator track thousands of shards. Changing
    /// it moves accounts between shards, so it is fixed for a cluster's life.
    /// </summary>
    public const int ShardCount = 100;

    private readonly int? _partitions;

    public AccountMessageExtractor() : base(ShardCount)
    {
    }

    /// <summary>Shard id = the account's partition of a usage topic with <paramref name="partitions"/> partitions.</summary>
    public AccountMessageExtractor(int partitions) : base(partitions)
    {
        _partitions = partitions;
    }

    public override string? EntityId(object message) => message switch
    {
        IWithAccountId m => m.AccountId,
        _ => null,
    };

    public override string ShardId(string entityId, object? messageHint = null) =>
        _partitions is { } partitions ? ShardOf(KafkaPartitioner.Partition(entityId, partitions)) : base.ShardId(entityId, messageHint);

    /// <summary>The shard that holds the accounts of a partition when partitions are co-located.</summary>
    public static string ShardOf(int partition) => partition.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
