using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Metering.Accounts;
using Metering.Ingestion.Consumer;

namespace Metering.Host.Api;

/// <summary><c>GET /api/v1/cluster</c>: the members as this node sees them, and where the account shards live.</summary>
public static class ClusterEndpoints
{
    public sealed record MemberView(string Address, string Status, IReadOnlyList<string> Roles, bool Reachable, int? Shards, int? Entities, IReadOnlyList<string>? ShardIds);
    public sealed record UnreachableView(string Address, string Status, IReadOnlyList<string> Roles);
    public sealed record ShardingView(int Shards, int Entities, IReadOnlyList<string> FailedRegions);
    /// <param name="Partitions">The usage-topic partitions this node's consumer holds.</param>
    public sealed record ClusterView(
        string Self,
        IReadOnlyList<int> Partitions,
        string? Leader,
        IReadOnlyList<MemberView> Members,
        IReadOnlyList<UnreachableView> Unreachable,
        ShardingView? Sharding,
        string? ShardingError);

    /// <summary>How long the shard regions of all members get to report.</summary>
    public static readonly TimeSpan StatsTimeout = TimeSpan.FromSeconds(5);

    public static RouteGroupBuilder MapClusterEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/cluster", async (ActorSystem system, IRequiredActor<AccountRegion> accounts, IngestionStatus consumer, CancellationToken ct) =>
                await DescribeAsync(system, await accounts.GetAsync(ct), consumer, ct))
            .WithName("GetCluster");
        return api;
    }

    public static async Task<ClusterView> DescribeAsync(ActorSystem system, IActorRef region, IngestionStatus consumer, CancellationToken ct)
    {
        var cluster = Cluster.Get(system);
        var state = cluster.State;

        // Asks every member's account region for its shards and their live entities.
        IReadOnlyDictionary<Address, ShardRegionStats>? regions = null;
        string? error = null;
        try
        {
            var stats = await region.Ask<ClusterShardingStats>(new GetClusterShardingStats(StatsTimeout), StatsTimeout + TimeSpan.FromSeconds(1), ct);
            regions = stats.Regions.ToDictionary(kv => kv.Key.HasLocalScope ? cluster.SelfAddress : kv.Key, kv => kv.Value);
        }
        catch (Exception e) when ((e is AskTimeoutException or TaskCanceledException) && !ct.IsCancellationRequested)
        {
            error = $"shard regions did not answer within {StatsTimeout.TotalSeconds:0} s";
        }

        var unreachable = state.Unreachable.Select(m => m.Address).ToHashSet();
        var members = state.Members
            .Select(m =>
            {
                var stats = regions?.GetValueOrDefault(m.Address);
                return new MemberView(
                    m.Address.ToString(),
                    m.Status.ToString(),
                    m.Roles.Order(StringComparer.Ordinal).ToList(),
                    !unreachable.Contains(m.Address),
                    stats?.Stats.Count,
                    stats?.Stats.Values.Sum(),
                    stats?.Stats.Keys.Order(StringComparer.Ordinal).ToList());
            })
            .ToList();
        var sharding = regions is null
            ? null
            : new ShardingView(
                regions.Values.Sum(r => r.Stats.Count),
                regions.Values.Sum(r => r.Stats.Values.Sum()),
                regions.Values.SelectMany(r => r.Failed).Distinct().Order(StringComparer.Ordinal).ToList());

        return new ClusterView(
            cluster.SelfAddress.ToString(),
            consumer.Partitions,
            state.Leader?.ToString(),
            members,
            state.Unreachable.Select(m => new UnreachableView(m.Address.ToString(), m.Status.ToString(), m.Roles.Order(StringComparer.Ordinal).ToList())).ToList(),
            sharding,
            error);
    }
}
