using Akka.Cluster.Sharding;
using Metering.Accounts.Messages;

namespace Metering.Accounts;

/// <summary>Account id is the entity id; the shard is a stable hash of it.</summary>
public sealed class AccountMessageExtractor : HashCodeMessageExtractor
{
    /// <summary>
    /// 100 shards: about ten per node for the largest cluster we plan (10 nodes), which keeps
    /// rebalancing fine-grained without making the coordinator track thousands of shards. Changing
    /// it moves accounts between shards, so it is fixed for a cluster's life.
    /// </summary>
    public const int ShardCount = 100;

    public AccountMessageExtractor() : base(ShardCount)
    {
    }

    public override string? EntityId(object message) => message switch
    {
        IWithAccountId m => m.AccountId,
        _ => null,
    };
}
