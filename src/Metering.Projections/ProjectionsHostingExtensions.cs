using Metering.Accounts.Persistence;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Metering.Accounts;
using Metering.Domain.Accounts;

namespace Metering.Projections;

/// <summary>Registry key for the projections singleton (its proxy).</summary>
public sealed class ProjectionsSingleton;

public static class ProjectionsHostingExtensions
{
    /// <summary>
    /// Creates the read tables (idempotent) and runs every projection in one cluster singleton over one
    /// read of the journal, so however many nodes run, each event is projected once.
    /// </summary>
    public static AkkaConfigurationBuilder AddMeteringProjections(
        this AkkaConfigurationBuilder builder, ReadStore store, ProjectionsOptions options, AccountsOptions accounts, ProjectionTelemetry telemetry)
    {
        CreateSchema(store);
        return builder
            .WithCustomSerializer("metering-projections", ProjectionSerializer.BoundTypes, system => new ProjectionSerializer(system))
            .WithSingleton<ProjectionsSingleton>(
                ProjectionsActor.Id,
                (system, _, resolver) => ProjectionsActor.Props(
                    Create(resolver.GetService<AccountJournal>() ?? throw new InvalidOperationException("The projections need AccountJournal (AddMeteringAccountJournal)."), accounts.Settings, options),
                    JournalFeed.For(system, options.BatchSize, options.BatchWait), store, telemetry),
                new ClusterSingletonOptions(),
                createProxyToo: true);
    }

    private static IReadOnlyList<IProjection> Create(AccountJournal journal, AccountSettings settings, ProjectionsOptions options) =>
        [new UsageProjection(options.CachedUsageRows), new BillingListsProjection(settings, journal.EventsAsync, options.CachedAccounts)];

    /// <summary>
    /// Idempotent DDL in one transaction; on PostgreSQL under an advisory lock, because nodes starting
    /// together would race on <c>CREATE TABLE IF NOT EXISTS</c> (it can fail on the type catalog).
    /// </summary>
    public static void CreateSchema(ReadStore store)
    {
        store.Prepare();
        using var connection = store.Open();
        using var transaction = connection.BeginTransaction();
        var statements = (store.Provider == "postgres" ? ["SELECT pg_advisory_xact_lock(7350)"] : Array.Empty<string>())
            .Append(ProjectionOffsets.Schema)
            .Concat(UsageProjection.Schema(store))
            .Concat(BillingListsProjection.Schema(store));
        foreach (var sql in statements)
        {
            using var command = JournalDatabase.Command(connection, transaction, sql);
            command.ExecuteNonQuery();
        }
        transaction.Commit();
    }
}
