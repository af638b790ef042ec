using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Metering.Accounts;
using Metering.Domain.Accounts;

namespace Metering.Projections;

/// <summary>Registry key for the projections singleton (its proxy).</summary>
public sealed class ProjectionsSingleton;

public static class ProjectionsHostingExtensions
{
    /// <summary>
    /// Creates the read tables (idempotent) and runs every projection in one cluster singleton, so
    /// however many nodes run, each event is projected once.
    /// </summary>
    public static AkkaConfigurationBuilder AddMeteringProjections(
        this AkkaConfigurationBuilder builder, ReadStore store, ProjectionsOptions options, AccountsOptions accounts, ProjectionTelemetry telemetry)
    {
        CreateSchema(store);
        return builder
            .WithCustomSerializer("metering-projections", ProjectionSerializer.BoundTypes, system => new ProjectionSerializer(system))
            .WithSingleton<ProjectionsSingleton>(
                ProjectionsActor.Id,
                (system, _, _) => Props.Create(() => new ProjectionsActor(Create(system, accounts.Settings, options), store, options, telemetry)),
                new ClusterSingletonOptions(),
                createProxyToo: true);
    }

    private static IReadOnlyList<IProjection> Create(ActorSystem system, AccountSettings settings, ProjectionsOptions options)
    {
        var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var materializer = system.Materializer();
        JournalReplay replay = async (persistenceId, from, to, ct) =>
            (await journal.CurrentEventsByPersistenceId(persistenceId, from, to)
                .Select(e => (IAccountEvent)e.Event)
                .RunWith(Sink.Seq<IAccountEvent>(), materializer)).ToList();
        return [new UsageProjection(), new BillingListsProjection(settings, replay, options.CachedAccounts)];
    }

    private static void CreateSchema(ReadStore store)
    {
        using var connection = store.Open();
        var statements = new[] { ProjectionOffsets.Schema }
            .Concat(UsageProjection.Schema(store))
            .Concat(BillingListsProjection.Schema(store));
        foreach (var sql in statements)
        {
            using var command = ReadStore.Command(connection, null, sql);
            command.ExecuteNonQuery();
        }
    }
}
