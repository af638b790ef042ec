using System.Diagnostics;
using Akka.Actor;
using Akka.Persistence;
using Akka.TestKit.Xunit2;
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
/// An account on the SQL journal the engine runs (Akka.Persistence.Sql with its recovery reads, here on a SQLite file) with
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

    private AccountSqlJournalTests(string dataDir) : base(SqlJournalConfig.For(dataDir))
    {
        _dataDir = dataDir;
        _gateway = new SandboxPaymentGateway(Path.Combine(dataDir, "gateway.db"), new FakeTimeProvider(T0));
        ActivitySource.AddActivityListener(_traces);
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
    public async Task An_account_recovers_from_its_latest_snapshot_and_the_events_after_it()
    {
        var options = new AccountsOptions { SnapshotEvery = 3 };
        var account = StartAccount("r2", options);
        for (var i = 0; i < 7; i++)
        {
            account.Tell(new RecordAccountUsage("r2", [Usage($"{i}", i)]), TestActor);
            ExpectMsg(new UsageAccepted("r2", 1, 0, 0));
        }
        Stop(account);

        var reads = Reads();
        var highest = await reads.HighestSequenceNrAsync("account-r2", 0, CancellationToken.None);
        // Snapshots are saved beside the journal's writes, in their own time: wait for the last one.
        SelectedSnapshot? snapshot = null;
        await Eventually.TrueAsync(async () => (snapshot = await Snapshots().LatestAsync("account-r2", CancellationToken.None)) is { Metadata.SequenceNr: > 3 },
            TimeSpan.FromSeconds(10), "the account's second snapshot was not saved");
        Assert.NotNull(snapshot);
        var snapshotAt = snapshot.Metadata.SequenceNr;
        // One event per batch here: the snapshot holds as many usage events as its sequence number.
        Assert.Equal(snapshotAt, Assert.IsType<AccountSnapshot>(snapshot.Snapshot).EventsProcessed);
        Assert.InRange(snapshotAt, 4, highest);

        // After the snapshot: every event, in order; bounded by `to` and `max` when asked.
        var after = new List<IPersistentRepresentation>();
        await reads.ReplayAsync("account-r2", snapshotAt + 1, long.MaxValue, long.MaxValue, after.Add);
        Assert.Equal(Enumerable.Range((int)snapshotAt + 1, (int)(highest - snapshotAt)).Select(n => (long)n), after.Select(p => p.SequenceNr));
        Assert.All(after, p => Assert.IsAssignableFrom<IAccountEvent>(p.Payload));
        var bounded = new List<IPersistentRepresentation>();
        await reads.ReplayAsync("account-r2", 2, 5, 2, bounded.Add);
        Assert.Equal([2L, 3L], bounded.Select(p => p.SequenceNr));
        Assert.Equal(0, await reads.HighestSequenceNrAsync("account-r2", highest, CancellationToken.None));

        // A new incarnation has every event, and its next write follows the last number.
        account = StartAccount("r2", options);
        account.Tell(new GetAccountOverview("r2"), TestActor);
        Assert.Equal(7, ExpectMsg<AccountOverview>().EventsProcessed);
        account.Tell(new RecordAccountUsage("r2", [Usage("7", 7)]), TestActor);
        ExpectMsg(new UsageAccepted("r2", 1, 0, 0));
        Stop(account);
        account = StartAccount("r2", options);
        account.Tell(new GetAccountOverview("r2"), TestActor);
        Assert.Equal(8, ExpectMsg<AccountOverview>().EventsProcessed);
    }

    [Fact]
    public async Task A_journal_row_that_names_no_serializer_is_refused_not_guessed_at()
    {
        var account = StartAccount("r3", new AccountsOptions());
        account.Tell(new RecordAccountUsage("r3", [Usage("1", 0)]), TestActor);
        ExpectMsg(new UsageAccepted("r3", 1, 0, 0));
        Stop(account);
        await using (var connection = await JournalDatabase.Sqlite(_dataDir).OpenAsync(CancellationToken.None))
        await using (var command = JournalDatabase.Command(connection, null, "UPDATE journal SET identifier = NULL WHERE persistence_id = 'account-r3'"))
            Assert.Equal(1, await command.ExecuteNonQueryAsync());

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => Reads().ReplayAsync("account-r3", 1, long.MaxValue, long.MaxValue, _ => { }));
        Assert.Contains("account-r3", error.Message);
    }

    private IActorRef StartAccount(string id, AccountsOptions options) =>
        Sys.ActorOf(AccountActor.GetProps(id, options,
            new AccountServices(new FakeTimeProvider(T0), _gateway, new NoChannels(), new AccountTelemetry(new TestMeters())), CreateTestProbe().Ref));

    private void Stop(IActorRef account)
    {
        Watch(account);
        account.Tell(StopAccount.Instance);
        ExpectTerminated(account);
    }

    private RecoveryReads Reads() => new(JournalDatabase.Sqlite(_dataDir), Sys.Serialization, Sys.Settings.Config.GetConfig("akka.persistence.journal.sql"));

    private SnapshotReads Snapshots() => new(JournalDatabase.Sqlite(_dataDir), Sys.Serialization, Sys.Settings.Config.GetConfig("akka.persistence.snapshot-store.sql"));

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
