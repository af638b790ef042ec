using Akka.Actor;
using Akka.Cluster;
using Metering.Accounts.Persistence;
using Metering.Ingestion.Consumer;
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

/// <summary>The usage consumer has joined its group and holds an assignment.</summary>
public sealed class ConsumerAssignedCheck(IngestionStatus status) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        Task.FromResult(status.Joined
            ? HealthCheckResult.Healthy($"consumer joined, {status.AssignedPartitions} partitions")
            : HealthCheckResult.Unhealthy("consumer has not joined its group"));
}
