using System.Diagnostics.Metrics;
using Akka.Actor;
using Akka.Cluster;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Metering.Accounts;

namespace Metering.Host.Telemetry;

/// <summary>
/// The cluster as this node sees it (members by status, unreachable members) and this node's share
/// of the accounts (shards and live account actors). The shard region answers asynchronously, so
/// its numbers are sampled every <see cref="SampleEvery"/> and exported from the last sample.
/// </summary>
public sealed class ClusterMetrics : BackgroundService
{
    public const string MeterName = "Metering.Cluster";
    public static readonly TimeSpan SampleEvery = TimeSpan.FromSeconds(5);

    private readonly ActorSystem _system;
    private readonly IRequiredActor<AccountRegion> _region;
    private readonly ILogger<ClusterMetrics> _log;
    private readonly Meter _meter;
    private volatile ShardRegionStats? _shards;

    public ClusterMetrics(ActorSystem system, IRequiredActor<AccountRegion> region, IMeterFactory factory, ILogger<ClusterMetrics> log)
    {
        _system = system;
        _region = region;
        _log = log;
        _meter = factory.Create(MeterName);
        _meter.CreateObservableGauge("metering.cluster.members", ObserveMembers, unit: "{member}",
            description: "Cluster members by status, as this node sees them");
        _meter.CreateObservableGauge("metering.cluster.unreachable_members", () => Cluster.Get(_system).State.Unreachable.Count, unit: "{member}",
            description: "Members this node's failure detector cannot reach");
        _meter.CreateObservableGauge("metering.cluster.shards", () => _shards?.Stats.Count ?? 0, unit: "{shard}",
            description: "Account shards hosted on this node");
        _meter.CreateObservableGauge("metering.accounts.active", () => _shards?.Stats.Values.Sum() ?? 0, unit: "{account}",
            description: "Account actors in memory on this node (idle ones are passivated)");
    }

    protected override async Task ExecuteAsync(CancellationToken ct)
    {
        var region = await _region.GetAsync(ct);
        using var timer = new PeriodicTimer(SampleEvery);
        do
        {
            try
            {
                // Counts only: the region's state lists every account id, thousands of them each sample.
                _shards = await region.Ask<ShardRegionStats>(GetShardRegionStats.Instance, SampleEvery, ct);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                // A busy or stopping region: keep the last sample, the next tick tries again. Never stop the host over a metric.
                _log.LogDebug("Shard region state not sampled: {Reason}", e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(ct));
    }

    private IEnumerable<Measurement<int>> ObserveMembers() =>
        Cluster.Get(_system).State.Members
            .GroupBy(m => m.Status)
            .Select(g => new Measurement<int>(g.Count(), new KeyValuePair<string, object?>("status", g.Key.ToString().ToLowerInvariant())));

    public override void Dispose()
    {
        _meter.Dispose();
        base.Dispose();
    }
}
