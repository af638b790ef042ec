using Akka.Cluster.Hosting;
using Akka.Cluster.Hosting.SBR;
using Akka.Hosting;
using Akka.Persistence.Sql.Config;
using Akka.Persistence.Sql.Hosting;
using Akka.Remote.Hosting;
using Metering.Accounts.Cluster;
using Metering.Accounts.Persistence;
using Metering.Accounts.Serialization;
using Metering.Domain.Accounts;
using Metering.Domain.Payments;

namespace Metering.Accounts;

/// <summary>Registry key for the account shard region.</summary>
public sealed class AccountRegion;

/// <summary>The Akka side of the engine, one extension per concern, composed by the host.</summary>
public static class AccountsHostingExtensions
{
    public const string SystemName = "metering";

    /// <summary>Remoting and clustering. With no seed nodes the node joins itself: a cluster of one.</summary>
    public static AkkaConfigurationBuilder AddMeteringCluster(this AkkaConfigurationBuilder builder, ClusterSettings settings)
    {
        builder
            .WithRemoting(settings.Hostname, settings.Port)
            .WithClustering(new ClusterOptions
            {
                SeedNodes = settings.SeedNodes.Length > 0 ? settings.SeedNodes : null,
                Roles = settings.Roles,
                // Keep-majority: on a partition the larger side keeps the shards, the smaller downs itself.
                SplitBrainResolver = new KeepMajorityOption(),
            });
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

    /// <summary>Journal and snapshots in SQL, events tagged through the journal builder into the tag table.</summary>
    public static AkkaConfigurationBuilder AddMeteringPersistence(this AkkaConfigurationBuilder builder, JournalDatabase database)
    {
        database.Prepare();
        return builder.WithSqlPersistence(
            connectionString: database.ConnectionString,
            providerName: database.LinqProviderName,
            journalBuilder: journal => journal.AddWriteEventAdapter<UsageTagger>("usage-tagger", [typeof(UsageRecorded)]),
            autoInitialize: true,
            tagStorageMode: TagMode.TagTable);
    }

    /// <summary>The account shard region and the explicit serializer for everything accounts persist or send.</summary>
    public static AkkaConfigurationBuilder AddMeteringAccounts(this AkkaConfigurationBuilder builder, AccountsOptions options, TimeProvider time, IPaymentGateway gateway)
    {
        return builder
            .WithCustomSerializer("metering-accounts", AccountSerializer.BoundTypes, system => new AccountSerializer(system))
            .WithShardRegion<AccountRegion>(
                "account",
                accountId => AccountActor.GetProps(accountId, options, time, gateway),
                new AccountMessageExtractor(),
                new ShardOptions
                {
                    PassivateIdleEntityAfter = options.PassivateAfter,
                    RememberEntities = false,
                });
    }
}
