using Akka.Configuration;
using Akka.Persistence.Sql;
using LinqToDB;
using Metering.Accounts.Persistence;
using Metering.Accounts.Serialization;

namespace Metering.Accounts.Tests;

/// <summary>The engine's SQL journal and snapshot store (its plugin classes) and its serializer for accounts, on a SQLite file in a folder, without the host.</summary>
internal static class SqlJournalConfig
{
    /// <summary>
    /// One failed journal call opens the journal's circuit breaker (ten by default), so a single
    /// failed write shows as the next write failing fast.
    /// </summary>
    public static Config For(string dataDir)
    {
        var database = JournalDatabase.Sqlite(dataDir);
        database.Prepare();
        return ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.plugin = "akka.persistence.journal.sql"
            akka.persistence.journal.sql {
              {{MeteringSqlJournal.PluginSettings}}
              connection-string = "{{database.ConnectionString}}"
              provider-name = "{{ProviderName.SQLiteMS}}"
              auto-initialize = on
              circuit-breaker.max-failures = 1
              circuit-breaker.reset-timeout = 60s
            }
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.sql"
            akka.persistence.snapshot-store.sql {
              class = "{{typeof(MeteringSqlSnapshotStore).AssemblyQualifiedName}}"
              connection-string = "{{database.ConnectionString}}"
              provider-name = "{{ProviderName.SQLiteMS}}"
              auto-initialize = on
            }
            akka.actor.serializers.metering-accounts = "{{typeof(AccountSerializer).AssemblyQualifiedName}}"
            akka.actor.serialization-bindings {
            {{string.Join("\n", AccountSerializer.BoundTypes.Select(t => $"  \"{t.AssemblyQualifiedName}\" = metering-accounts"))}}
            }
            akka.test.single-expect-default = 10s
            """).WithFallback(SqlPersistence.DefaultConfiguration);
    }
}
