using Akka.Actor;
using Akka.Cluster.Hosting;
using Akka.Cluster.Sharding;
using Akka.Cluster.Sharding.External;
using Akka.Configuration;
using Akka.DependencyInjection;
using Akka.DistributedData;
using Akka.Cluster.Hosting.SBR;
using Akka.Discovery.Config.Hosting;
using Akka.Discovery.KubernetesApi;
using Akka.Hosting;
using Akka.Management;
using Akka.Management.Cluster.Bootstrap;
using Akka.Persistence;
using Akka.Persistence.Sql.Config;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using Metering.Accounts.Cluster;
using Metering.Accounts.Messages;
using Metering.Accounts.Persistence;
using Metering.Accounts.Scheduling;
using Metering.Accounts.Serialization;
using Metering.Domain.Accounts;
using Metering.Domain.Payments;

namespace Metering.Accounts;

/// <summary>Registry key for the account shard region.</summary>
public sealed class AccountRegion;

/// <summary>Registry key for the due-date schedule singleton (its proxy).</summary>
public sealed class AccountScheduleSingleton;

/// <summary>The Akka side of the engine, one extension per concern, composed by the host.</summary>
public static class AccountsHostingExtensions
{
    public const string SystemName = "metering";

    /// <summary>
    /// Remoting and clustering. Nodes find each other through seed nodes, or through Akka.Management
    /// cluster bootstrap when <see cref="DiscoverySettings.Method"/> is <c>config</c> or
    /// <c>kubernetes</c>; with neither the node joins itself: a cluster of one.
    /// </summary>
    public static AkkaConfigurationBuilder AddMeteringCluster(this AkkaConfigurationBuilder builder, ClusterSettings settings)
    {
        var discovery = settings.Discovery;
        builder
            .WithRemoting(new RemoteOptions
            {
                HostName = settings.Hostname,
                PublicHostName = settings.AdvertisedHostname,
                Port = settings.Port,
            })
            .WithClustering(new ClusterOptions
            {
                SeedNodes = settings.SeedNodes.Length > 0 && !discovery.Enabled ? settings.SeedNodes : null,
                Roles = settings.Roles,
                AppVersion = settings.AppVersion,
                // Keep-majority: on a partition (or a crash) the side with more than half of the nodes
                // downs the others after StableAfter and takes over their shards; the smaller side
                // downs itself, so one account never has two writers. On an even split the side with
                // the lowest address survives.
                SplitBrainResolver = new KeepMajorityOption(),
            })
            .AddHocon($"akka.cluster.split-brain-resolver.stable-after = {(long)settings.StableAfter.TotalMilliseconds}ms", HoconAddMode.Prepend)
            // The host runs coordinated shutdown (leave, shard hand-off) when it stops Akka, after the
            // usage consumer finished and committed its batch. Akka's own SIGTERM hook would start
            // leaving at the signal, under that batch, which then fails and is redelivered.
            .AddHocon("akka.coordinated-shutdown.run-by-clr-shutdown-hook = off", HoconAddMode.Prepend)
            // Akka 1.5.73's proxies log "failed to find an associated singleton ... after 30 seconds" the
            // moment they start, before their first lookup could answer (akkadotnet/akka.net#8568): a
            // false warning at every start and hand-over. A singleton that is really missing still shows:
            // requests through its proxy time out with an error.
            .AddHocon("akka.cluster.singleton-proxy.log-singleton-identification-failure = off", HoconAddMode.Prepend);

        if (discovery.Enabled)
            return builder.AddMeteringBootstrap(settings);
        if (settings.SeedNodes.Length == 0)
        {
            builder.AddStartup((system, _) =>
            {
                var cluster = Akka.Cluster.Cluster.Get(system);
                cluster.Join(cluster.SelfAddress);
            });
        }
        return builder;
    }

    /// <summary>Akka.Management's HTTP endpoint on every node, and cluster bootstrap over config or Kubernetes API discovery.</summary>
    private static AkkaConfigurationBuilder AddMeteringBootstrap(this AkkaConfigurationBuilder builder, ClusterSettings settings)
    {
        var discovery = settings.Discovery;
        var bootstrap = new ClusterBootstrapOptions { NewClusterEnabled = true };
        var contactPoints = bootstrap.ContactPointDiscovery;
        contactPoints.ServiceName = discovery.ServiceName;
        contactPoints.RequiredContactPointsNr = discovery.RequiredContactPoints;
        // Several nodes may share one host (tests, compose on one machine): tell them apart by port.
        bootstrap.ContactPoint.FilterOnFallbackPort = false;
        if (string.Equals(discovery.Method, DiscoverySettings.Config, StringComparison.OrdinalIgnoreCase))
        {
            builder.WithConfigDiscovery(o => o.Services = [new Service { Name = discovery.ServiceName, Endpoints = discovery.Endpoints }]);
            contactPoints.DiscoveryMethod = "config";
            // The list never changes: no need to wait for it to settle.
            contactPoints.StableMargin = TimeSpan.FromSeconds(1);
        }
        else if (string.Equals(discovery.Method, DiscoverySettings.Kubernetes, StringComparison.OrdinalIgnoreCase))
        {
            builder.WithKubernetesDiscovery(o =>
            {
                o.PodLabelSelector = discovery.PodLabelSelector;
                if (!string.IsNullOrWhiteSpace(discovery.PodNamespace)) o.PodNamespace = discovery.PodNamespace;
            });
            contactPoints.DiscoveryMethod = "kubernetes-api";
            contactPoints.PortName = "management";
        }
        else
        {
            throw new InvalidOperationException(
                $"Metering:Cluster:Discovery:Method '{discovery.Method}' is not one of none, config, kubernetes.");
        }

        return builder
            .WithAkkaManagement(new AkkaManagementOptions
            {
                HostName = settings.AdvertisedHostname,
                Port = discovery.ManagementPort,
                BindHostName = string.IsNullOrWhiteSpace(discovery.ManagementBindHostname) ? settings.Hostname : discovery.ManagementBindHostname,
                BindPort = discovery.ManagementPort,
            })
            .WithClusterBootstrap(bootstrap);
    }

    /// <summary>
    /// Journal and snapshots in SQL, writes batched to the database's strengths (see
    /// <see cref="JournalDatabase.WriteBatchSize"/>). Events are not tagged: the projections read the
    /// whole journal in order instead, and <see cref="JournalWrites"/> rejects tags (docs/architecture.md).
    /// </summary>
    public static AkkaConfigurationBuilder AddMeteringPersistence(this AkkaConfigurationBuilder builder, JournalDatabase database)
    {
        database.Prepare();
        return builder
            .AddHocon($$"""
                akka.persistence.journal.sql {
                  # Write transactions at once, and rows per transaction (JournalWrites).
                  parallelism = {{database.WriteParallelism}}
                  batch-size = {{database.WriteBatchSize}}
                  read-isolation-level = {{database.ReadIsolationLevel}}
                  # Akka.Persistence.Sql's plugins with their hot paths our own (JournalWrites, RecoveryReads, SnapshotReads).
                  {{MeteringSqlJournal.PluginSettings}}
                }
                akka.persistence.snapshot-store.sql.read-isolation-level = {{database.ReadIsolationLevel}}
                akka.persistence.snapshot-store.sql.class = "{{typeof(MeteringSqlSnapshotStore).AssemblyQualifiedName}}"
                akka.persistence.query.journal.sql.read-isolation-level = {{database.ReadIsolationLevel}}
                """, HoconAddMode.Prepend)
            .WithSqlPersistence(
                journal =>
                {
                    journal.DataOptions = database.JournalDataOptions();
                    // Beside the DataOptions too: without them Akka.Persistence.Sql takes other code
                    // paths, and a cold account recovered in 16 ms instead of 3.6 (docs/benchmarks.md).
                    journal.ConnectionString = database.ConnectionString;
                    journal.ProviderName = database.LinqProviderName;
                    journal.AutoInitialize = true;
                    journal.TagStorageMode = TagMode.TagTable;
                },
                snapshots =>
                {
                    snapshots.ConnectionString = database.ConnectionString;
                    snapshots.ProviderName = database.LinqProviderName;
                    snapshots.AutoInitialize = true;
                })
            .StartActors(async (system, _) => await JournalReadyAsync(system));
    }

    /// <summary>How long a starting node waits for the journal to create or check its tables.</summary>
    public static readonly TimeSpan JournalStartTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Waits until the journal has created (or checked) its tables: it holds every request until then
    /// and answers a replay of nothing after. Akka.Persistence.Sql's read journal waits for the same
    /// only 5 s and crashes the node after; with several nodes creating tables on PostgreSQL at once,
    /// or on a loaded machine, that took longer. Starters run in order, so nothing registered later
    /// (the projections' read journal) opens one before this returns.
    /// </summary>
    private static async Task JournalReadyAsync(ActorSystem system)
    {
        var journal = Akka.Persistence.Persistence.Instance.Apply(system).JournalFor(null);
        try
        {
            await journal.Ask<RecoverySuccess>(replyTo => new ReplayMessages(0, 0, 0, "metering-journal-start", replyTo), JournalStartTimeout, CancellationToken.None);
        }
        catch (AskTimeoutException e)
        {
            throw new TimeoutException($"The journal did not create or check its tables within {JournalStartTimeout.TotalSeconds} s: is the database reachable?", e);
        }
    }

    /// <summary>The sharded entity type of accounts (the shard region's name).</summary>
    public const string AccountTypeName = "account";

    /// <summary>
    /// The account shard region, the durable due-date schedule that wakes accounts for renewals and
    /// reminders, and the explicit serializer for everything accounts persist or send. With
    /// <paramref name="colocatedPartitions"/> (the usage topic's partition count) each account's shard
    /// is its Kafka partition and shards are placed where <see cref="PartitionShardPlacement"/> says.
    /// </summary>
    public static AkkaConfigurationBuilder AddMeteringAccounts(this AkkaConfigurationBuilder builder, AccountsOptions options, AccountServices services, int? colocatedPartitions = null)
    {
        Func<ActorSystem, IActorRegistry, IDependencyResolver, Func<string, Props>> props =
            (_, registry, _) => accountId => AccountActor.GetProps(accountId, options, services, registry.Get<AccountScheduleSingleton>());
        var shardOptions = new ShardOptions
        {
            PassivateIdleEntityAfter = options.PassivateAfter,
            RememberEntities = false,
            HandOffStopMessage = StopAccount.Instance,
        };
        builder.WithCustomSerializer("metering-accounts", AccountSerializer.BoundTypes, system => new AccountSerializer(system));
        if (colocatedPartitions is { } partitions)
            builder.WithColocatedShardRegion(props, new AccountMessageExtractor(partitions), shardOptions);
        else
            builder.WithShardRegion<AccountRegion>(AccountTypeName, props, new AccountMessageExtractor(), shardOptions);
        return builder
            .WithSingleton<AccountScheduleSingleton>(
                AccountScheduleActor.Id,
                (_, registry, _) => AccountScheduleActor.GetProps(registry.Get<AccountRegion>(), services.Time, options.ScheduleTick),
                new ClusterSingletonOptions { TerminationMessage = AccountScheduleActor.Stop.Instance },
                createProxyToo: true);
    }

    /// <summary>
    /// <c>WithShardRegion</c> with Akka's external shard allocation strategy, which Akka.Hosting's
    /// builder does not take: the same settings from <paramref name="shardOptions"/>, started the same way.
    /// </summary>
    private static void WithColocatedShardRegion(
        this AkkaConfigurationBuilder builder,
        Func<ActorSystem, IActorRegistry, IDependencyResolver, Func<string, Props>> props,
        IMessageExtractor extractor,
        ShardOptions shardOptions)
    {
        builder
            .AddHocon(ClusterSharding.DefaultConfig().WithFallback(DistributedData.DefaultConfig()), HoconAddMode.Append)
            .StartActors(async (system, registry, resolver) =>
            {
                var sharding = ConfigurationFactory.ParseString(shardOptions.ToString())
                    .WithFallback(system.Settings.Config.GetConfig("akka.cluster.sharding"));
                var settings = ClusterShardingSettings.Create(sharding, system.Settings.Config.GetConfig(sharding.GetString("coordinator-singleton")));
                var region = await ClusterSharding.Get(system).StartAsync(
                    AccountTypeName, props(system, registry, resolver), settings, extractor,
                    new ExternalShardAllocationStrategy(system, AccountTypeName), shardOptions.HandOffStopMessage!);
                registry.Register<AccountRegion>(region);
            });
    }
}
