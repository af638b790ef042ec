using Akka.Actor;
using Akka.Cluster;
using Metering.Accounts.Persistence;
using Metering.Ingestion.Consumer;
using Metering.Ingestion.Kafka;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Metering.Host.Health;

/// <summary>This node is an Up member of the cluster: it can host shards and route to them.</summary>
public sealed class ClusterMemberUpCheck(ActorSystem system) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        var self = Cluster.Get(system).SelfMember;
        return Task.FromResult(self.Status == MemberStatus.Up
            ? HealthCheckResult.Healthy($"{self.Address} is Up")
            : HealthCheckResult.Unhealthy($"{self.Address} is {self.Status}"));
    }
}

/// <summary>The journal's database answers a query.</summary>
public sealed class JournalReachableCheck(JournalDatabase database) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        await database.PingAsync(ct)
            ? HealthCheckResult.Healthy($"{database.Provider} journal reachable")
            : HealthCheckResult.Unhealthy($"{database.Provider} journal unreachable");
}

/// <summary>
/// The usage consumer has joined its group, holds an assignment, and is not stuck: records waiting
/// for it (lag, or a batch in hand) with no batch committed for <see cref="KafkaOptions.StuckAfter"/>
/// means this node holds partitions it cannot move forward, and no other node takes them while it does.
/// </summary>
public sealed class ConsumerAssignedCheck(IngestionStatus status, KafkaOptions kafka) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        if (!status.Joined) return Task.FromResult(HealthCheckResult.Unhealthy("consumer has not joined its group"));
        var since = status.SinceProgress;
        return Task.FromResult(status.Behind && since > kafka.StuckAfter
            ? HealthCheckResult.Unhealthy($"consumer stuck: records wait on {status.AssignedPartitions} partitions and no batch was committed for {since.TotalSeconds:0} s")
            : HealthCheckResult.Healthy($"consumer joined, {status.AssignedPartitions} partitions"));
    }
}
