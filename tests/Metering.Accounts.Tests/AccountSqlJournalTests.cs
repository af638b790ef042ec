using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Sql;
using Akka.TestKit.Xunit2;
using LinqToDB;
using Metering.Accounts.Messages;
using Metering.Accounts.Persistence;
using Metering.Billing.Payments;
using Metering.Domain.Accounts;
using Metering.Domain.Notifications;
using Metering.Domain.Usage;
using Metering.Tests.Shared;
using Microsoft.Extensions.Time.Testing;

namespace Metering.Accounts.Tests;

/// <summary>
/// An account on the SQL journal the engine runs (Akka.Persistence.Sql, here on a SQLite file) with
/// its traces listened to, as in the host.
/// </summary>
public sealed class AccountSqlJournalTests : TestKit
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
    private readonly string _dataDir;
    private readonly SandboxPaymentGateway _gateway;

    private readonly ActivityListener _traces = new()
    {
        ShouldListenTo = s => s.Name == AccountTelemetry.SourceName,
        Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
    };

    public AccountSqlJournalTests() : this(Directory.CreateTempSubdirectory("metering-journal-").FullName)
    {
    }

    private AccountSqlJournalTests(string dataDir) : base(JournalConfig(dataDir))
    {
        _dataDir = dataDir;
        _gateway = new SandboxPaymentGateway(Path.Combine(dataDir, "gateway.db"), new FakeTimeProvider(T0));
        ActivitySource.AddActivityListener(_traces);
    }

    /// <summary>
    /// One failed journal call opens the journal's circuit breaker (ten by default), so a single
    /// failed write shows as the next write failing fast.
    /// </summary>
    private static Config JournalConfig(string dataDir)
    {
        var database = JournalDatabase.Sqlite(dataDir);
        database.Prepare();
        return ConfigurationFactory.ParseString($$"""
            akka.persistence.journal.plugin = "akka.persistence.journal.sql"
            akka.persistence.journal.sql {
              connection-string = "{{database.ConnectionString}}"
              provider-name = "{{ProviderName.SQLiteMS}}"
              auto-initialize = on
              circuit-breaker.max-failures = 1
              circuit-breaker.reset-timeout = 60s
            }
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.sql"
            akka.persistence.snapshot-store.sql {
              connection-string = "{{database.ConnectionString}}"
              provider-name = "{{ProviderName.SQLiteMS}}"
              auto-initialize = on
            }
            akka.test.single-expect-default = 10s
            """).WithFallback(SqlPersistence.DefaultConfiguration);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        _traces.Dispose();
        _gateway.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void A_batch_that_arrives_again_while_the_first_is_persisting_leaves_the_journal_healthy()
    {
        var account = Sys.ActorOf(AccountActor.GetProps("r1", new AccountsOptions(),
            new AccountServices(new FakeTimeProvider(T0), _gateway, new NoChannels(), new AccountTelemetry(new TestMeters())), CreateTestProbe().Ref));
        Watch(account);

        // A consumer that timed out sends its batch again while the first is still being written
        // (an Ask timeout during a rebalance does): the second finds only duplicates.
        var batch = new RecordAccountUsage("r1", [Usage("1", 0)]);
        account.Tell(batch, TestActor);
        account.Tell(batch, TestActor);
        account.Tell(new RecordAccountUsage("r1", [Usage("2", 1)]), TestActor);

        // The answer with nothing to persist may overtake the first. The third batch's write still
        // goes through: nothing the account did failed a journal call.
        ExpectMsgAllOf([new UsageAccepted("r1", 1, 0, 0), new UsageAccepted("r1", 0, 0, 1), new UsageAccepted("r1", 1, 0, 0)]);
        account.Tell(new GetAccountOverview("r1"), TestActor);
        Assert.Equal(2, ExpectMsg<AccountOverview>().EventsProcessed);
    }

    private static UsageRecord Usage(string id, long offset) =>
        new("crm/test", id, "lead", 1, T0, "sales", "u-1", new KafkaPosition(0, offset));

    private sealed class NoChannels : INotificationSink
    {
        public Task<string?> DeliverAsync(string accountId, Notification notification, NotificationSettings settings, CancellationToken ct) =>
            Task.FromResult<string?>(null);
    }
}
