using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Metering.Accounts.Messages;
using Metering.Domain.Accounts;
using Metering.Domain.Usage;
using Microsoft.Extensions.Time.Testing;

namespace Metering.Accounts.Tests;

public class AccountActorTests() : TestKit(Config)
{
    // In-memory journal and snapshots; every message is serialized on send, so the explicit
    // serializer is exercised for commands and replies too.
    private static readonly Config Config = ConfigurationFactory.ParseString($$"""
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        akka.actor.serialize-messages = on
        akka.actor.serializers.metering-accounts = "{{typeof(Serialization.AccountSerializer).AssemblyQualifiedName}}"
        akka.actor.serialization-bindings {
          "{{typeof(IAccountMessage).AssemblyQualifiedName}}" = metering-accounts
          "{{typeof(IAccountEvent).AssemblyQualifiedName}}" = metering-accounts
          "{{typeof(AccountSnapshot).AssemblyQualifiedName}}" = metering-accounts
        }
        """);

    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0);

    private IActorRef Start(string id, int snapshotEvery = 100) =>
        Sys.ActorOf(AccountActor.GetProps(id, new AccountsOptions { SnapshotEvery = snapshotEvery }, _time));

    private static UsageRecord Usage(string id, string meter, decimal quantity, int partition, long offset) =>
        new("crm/test", id, meter, quantity, T0, "sales", "u-1", new KafkaPosition(partition, offset));

    private AccountOverview Overview(IActorRef account, string id)
    {
        account.Tell(new GetAccountOverview(id), TestActor);
        return ExpectMsg<AccountOverview>();
    }

    [Fact]
    public void Answers_after_persisting_and_shows_the_usage()
    {
        var account = Start("a1");
        account.Tell(new RecordAccountUsage("a1", [Usage("1", "lead", 1, 0, 0), Usage("2", "call", 1, 0, 1), Usage("2", "call", 1, 0, 2)]), TestActor);
        ExpectMsg(new UsageAccepted("a1", 2, 1, 0));

        var overview = Overview(account, "a1");
        Assert.Equal(1m, overview.Usage["lead"]);
        Assert.Equal(1m, overview.Usage["call"]);
        Assert.Equal(2, overview.EventsProcessed);
        Assert.Equal(1, overview.DuplicatesDropped);
        Assert.Equal(T0, overview.AsOf);
        Assert.Equal(new DateTimeOffset(2026, 11, 27, 0, 0, 0, TimeSpan.Zero), overview.CycleStart);
        Assert.Equal(new DateTimeOffset(2026, 12, 27, 0, 0, 0, TimeSpan.Zero), overview.CycleEnd);
    }

    [Fact]
    public void An_account_never_seen_answers_zeros()
    {
        var overview = Overview(Start("nobody"), "nobody");
        Assert.Empty(overview.Usage);
        Assert.Equal(0, overview.EventsProcessed);
        Assert.Equal(0m, overview.Balance);
        Assert.Equal("USD", overview.Currency);
    }

    [Fact]
    public void A_redelivered_batch_is_acknowledged_and_not_counted()
    {
        var account = Start("a2");
        var batch = new RecordAccountUsage("a2", [Usage("1", "lead", 3, 5, 100)]);
        account.Tell(batch, TestActor);
        ExpectMsg(new UsageAccepted("a2", 1, 0, 0));
        account.Tell(batch, TestActor);
        ExpectMsg(new UsageAccepted("a2", 0, 0, 1));
        Assert.Equal(3m, Overview(account, "a2").Usage["lead"]);
    }

    [Fact]
    public void A_restarted_account_recovers_from_journal_and_snapshots()
    {
        var account = Start("a3", snapshotEvery: 2);
        for (var i = 0; i < 5; i++)
        {
            account.Tell(new RecordAccountUsage("a3", [Usage($"e{i}", "email", i + 1, 0, i)]), TestActor);
            ExpectMsg<UsageAccepted>();
        }
        Watch(account);
        Sys.Stop(account);
        ExpectTerminated(account);

        _time.Advance(TimeSpan.FromMinutes(5));
        var again = Start("a3", snapshotEvery: 2);
        var overview = Overview(again, "a3");
        Assert.Equal(15m, overview.Usage["email"]);
        Assert.Equal(5, overview.EventsProcessed);

        // The recovered watermark and dedupe memory still hold.
        again.Tell(new RecordAccountUsage("a3", [Usage("e4", "email", 5, 0, 4), Usage("e0", "email", 1, 0, 5)]), TestActor);
        ExpectMsg(new UsageAccepted("a3", 0, 1, 1));
    }
}
