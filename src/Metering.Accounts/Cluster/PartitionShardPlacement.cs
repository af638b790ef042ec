using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster.Sharding.External;
using Microsoft.Extensions.Logging;

namespace Metering.Accounts.Cluster;

/// <summary>
/// With partitions co-located (<see cref="ClusterSettings.ColocatePartitions"/>): tells the account
/// shard coordinator that the shards of the partitions this node's consumer was just given belong
/// here. The coordinator's next rebalance moves them (a shard moves like on any hand-off: its
/// accounts stop behind the commands they hold and start again here from the journal). A node that
/// loses partitions writes nothing: whoever gets them claims them, and a shard whose claimed node is
/// gone, or that no node claimed yet, is allocated to the node that first asks for it, which is the
/// consumer of its partition for usage.
/// </summary>
public sealed class PartitionShardPlacement(ActorSystem system, ClusterSettings settings, ILogger<PartitionShardPlacement> log)
{
    /// <summary>Claims the shards of <paramref name="partitions"/> for this node; returns at once (the location spreads by gossip).</summary>
    public void Claim(IEnumerable<int> partitions)
    {
        if (!settings.ColocatePartitions) return;
        var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
        var locations = partitions.ToImmutableDictionary(AccountMessageExtractor.ShardOf, _ => self);
        if (locations.Count == 0) return;
        ExternalShardAllocation.Get(system).ClientFor(AccountsHostingExtensions.AccountTypeName).UpdateShardLocations(locations)
            .ContinueWith(
                t => log.LogWarning(t.Exception, "Could not claim shards {Shards}; they stay where they are until the next assignment", string.Join(',', locations.Keys)),
                CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
    }
}
