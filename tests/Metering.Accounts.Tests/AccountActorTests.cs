using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Metering.Accounts.Messages;
using Metering.Accounts.Scheduling;
using Metering.Billing.Payments;
using Metering.Domain.Accounts;
using Metering.Domain.Notifications;
using Metering.Domain.Payments;
using Metering.Domain.Plans;
using Metering.Domain.Pricing;
using Metering.Domain.Usage;
using Metering.Tests.Shared;
using Microsoft.Extensions.Time.Testing;

namespace Metering.Accounts.Tests;

public sealed class AccountActorTests : TestKit
{
    // In-memory journal and snapshots; every message is serialized on send, so the explicit
    // serializer is exercised for commands and replies too.
    private static readonly Config Config = ConfigurationFactory.ParseString($$"""
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        akka.actor.serialize-messages = on
        akka.test.single-expect-default = 10s
        akka.actor.serializers.metering-accounts = "{{typeof(Serialization.AccountSerializer).AssemblyQualifiedName}}"
        akka.actor.serialization-bindings {
          "{{typeof(IAccountMessage).AssemblyQualifiedName}}" = metering-accounts
          "{{typeof(IAccountEvent).AssemblyQualifiedName}}" = metering-accounts
          "{{typeof(AccountSnapshot).AssemblyQualifiedName}}" = metering-accounts
          "{{typeof(IAccountScheduleMessage).AssemblyQualifiedName}}" = metering-accounts
        }
        """);

    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0);
    private readonly string _gatewayFile = Path.Combine(Path.GetTempPath(), $"gateway-{Guid.NewGuid():N}.db");
    private readonly SandboxPaymentGateway _gateway;

    public AccountActorTests() : base(Config) => _gateway = new SandboxPaymentGateway(_gatewayFile, _time);

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        _gateway.Dispose();
        File.Delete(_gatewayFile);
    }

    private readonly AccountTelemetry _telemetry = new(new TestMeters());

    private IActorRef Start(string id, int snapshotEvery = 100, IPaymentGateway? gateway = null, TimeSpan writeBehind = default) =>
        Sys.ActorOf(AccountActor.GetProps(id, new AccountsOptions { SnapshotEvery = snapshotEvery, RechargeRetryBackoff = TimeSpan.FromMilliseconds(100), WriteBehind = writeBehind },
            new AccountServices(_time, gateway ?? _gateway, new NoChannels(), _telemetry), CreateTestProbe().Ref));

    /// <summary>An account that chose no notification channels: notifications are only listed.</summary>
    private sealed class NoChannels : INotificationSink
    {
        public Task<string?> DeliverAsync(string accountId, Notification notification, NotificationSettings settings, CancellationToken ct) =>
            Task.FromResult<string?>(null);
    }

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
    public void A_hand_off_stop_waits_for_the_commands_sent_before_it_and_their_answers()
    {
        var account = Start("h1");
        Watch(account);
        // Back to back, as a shard hands off a busy account: the second batch and the stop are
        // stashed while the first is written.
        account.Tell(new RecordAccountUsage("h1", [Usage("1", "lead", 1, 0, 0)]), TestActor);
        account.Tell(new RecordAccountUsage("h1", [Usage("2", "lead", 1, 0, 1)]), TestActor);
        account.Tell(StopAccount.Instance, TestActor);
        ExpectMsg(new UsageAccepted("h1", 1, 0, 0));
        ExpectMsg(new UsageAccepted("h1", 1, 0, 0));
        ExpectTerminated(account);

        Assert.Equal(2, Overview(Start("h1"), "h1").EventsProcessed);
    }

    [Fact]
    public void The_schedule_singleton_hands_over_with_every_change_sent_before_its_stop()
    {
        var accounts = CreateTestProbe();
        var schedule = Sys.ActorOf(AccountScheduleActor.GetProps(accounts.Ref, _time, TimeSpan.FromHours(1)));
        Watch(schedule);
        // The second change is stashed while the first is written, then the hand-over's stop comes.
        schedule.Tell(new ScheduleAccount("s1", T0));
        schedule.Tell(new ScheduleAccount("s2", T0));
        schedule.Tell(AccountScheduleActor.Stop.Instance);
        ExpectTerminated(schedule);

        // The singleton on its next node wakes both accounts from the journal.
        Sys.ActorOf(AccountScheduleActor.GetProps(accounts.Ref, _time, TimeSpan.FromHours(1)));
        var woken = new[] { accounts.ExpectMsg<WakeAccount>().AccountId, accounts.ExpectMsg<WakeAccount>().AccountId };
        Assert.Equal(["s1", "s2"], woken.Order());
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

    [Fact]
    public void Under_write_behind_usage_is_applied_at_once_and_answered_as_durable_once_written()
    {
        var account = Start("w1", snapshotEvery: 2, writeBehind: TimeSpan.FromMilliseconds(200));
        for (var i = 0; i < 5; i++)
        {
            account.Tell(new RecordAccountUsage("w1", [Usage($"e{i}", "email", i + 1, 0, i)]), TestActor);
            ExpectMsg(new UsageApplied("w1"));
        }
        // The balance reflects every batch before any of them is durable.
        Assert.Equal(15m, Overview(account, "w1").Usage["email"]);
        for (var i = 0; i < 5; i++) ExpectMsg(new UsageAccepted("w1", 1, 0, 0, Deferred: true));

        // A second round after the snapshots the first write crossed: a snapshot holds only what the journal does.
        for (var i = 5; i < 7; i++)
        {
            account.Tell(new RecordAccountUsage("w1", [Usage($"e{i}", "email", 1, 0, i)]), TestActor);
            ExpectMsg(new UsageApplied("w1"));
        }
        for (var i = 5; i < 7; i++) ExpectMsg(new UsageAccepted("w1", 1, 0, 0, Deferred: true));
        Watch(account);
        Sys.Stop(account);
        ExpectTerminated(account);

        var again = Start("w1", snapshotEvery: 2, writeBehind: TimeSpan.FromMilliseconds(200));
        var overview = Overview(again, "w1");
        Assert.Equal(17m, overview.Usage["email"]);
        Assert.Equal(7, overview.EventsProcessed);
    }

    [Fact]
    public void Asked_to_write_now_an_account_writes_what_it_applied_ahead_without_waiting_for_its_interval()
    {
        var account = Start("w4", writeBehind: TimeSpan.FromHours(1));
        account.Tell(new RecordAccountUsage("w4", [Usage("e1", "lead", 1, 0, 0), Usage("e2", "lead", 1, 0, 1)]), TestActor);
        ExpectMsg(new UsageApplied("w4"));
        account.Tell(new WriteUsageNow("w4"), TestActor);
        ExpectMsg(new UsageAccepted("w4", 2, 0, 0, Deferred: true));
        account.Tell(new WriteUsageNow("w4"), TestActor);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        Watch(account);
        Sys.Stop(account);
        ExpectTerminated(account);
        Assert.Equal(2, Overview(Start("w4"), "w4").EventsProcessed);
    }

    [Fact]
    public void Usage_not_written_yet_dies_with_its_account_unanswered_and_is_counted_once_when_read_again()
    {
        var account = Start("w2", writeBehind: TimeSpan.FromHours(1));
        var batch = new RecordAccountUsage("w2", [Usage("e1", "lead", 2, 0, 7)]);
        account.Tell(batch, TestActor);
        ExpectMsg(new UsageApplied("w2"));
        Assert.Equal(2m, Overview(account, "w2").Usage["lead"]);
        // A crash, not a hand-off: what was not written is gone, and no answer claims it durable.
        Watch(account);
        Sys.Stop(account);
        ExpectTerminated(account);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // The consumer, never told it was durable, reads the batch again from its committed offsets.
        var again = Start("w2", writeBehind: TimeSpan.FromHours(1));
        Assert.Equal(0, Overview(again, "w2").EventsProcessed);
        again.Tell(batch, TestActor);
        ExpectMsg(new UsageApplied("w2"));
        again.Tell(StopAccount.Instance, TestActor);
        ExpectMsg(new UsageAccepted("w2", 1, 0, 0, Deferred: true));
        Assert.Equal(1, Overview(Start("w2"), "w2").EventsProcessed);
    }

    [Fact]
    public void Under_write_behind_a_hand_off_and_a_command_write_the_usage_applied_before_them_first()
    {
        var account = Start("w3", writeBehind: TimeSpan.FromHours(1));
        account.Tell(new RecordAccountUsage("w3", [Usage("c1", "call", 3, 0, 0)]), TestActor);
        ExpectMsg(new UsageApplied("w3"));
        // The plan's answer comes after the usage before it is durable, and the journal holds both in that order.
        account.Tell(new SubscribeAccount("w3", PerCall, null), TestActor);
        ExpectMsg(new UsageAccepted("w3", 1, 0, 0, Deferred: true));
        Assert.Null(ExpectMsg<AccountCommandResult>().Outcome.Refusal);

        account.Tell(new RecordAccountUsage("w3", [Usage("c2", "call", 2, 0, 1)]), TestActor);
        ExpectMsg(new UsageApplied("w3"));
        // Only the calls after the plan were rated: a journal with the plan first would owe all five.
        var live = Overview(account, "w3");
        Assert.True(live.PendingBalance > 0m);
        Watch(account);
        account.Tell(StopAccount.Instance, TestActor);
        ExpectMsg(new UsageAccepted("w3", 1, 0, 0, Deferred: true));
        ExpectTerminated(account);

        var overview = Overview(Start("w3"), "w3");
        Assert.Equal(5m, overview.Usage["call"]);
        Assert.Equal(2, overview.EventsProcessed);
        Assert.Equal(live.PendingBalance, overview.PendingBalance);
        Assert.Equal(live.Balance, overview.Balance);
    }

    private PaymentCard Tokenize(string number)
    {
        var result = _gateway.TokenizeAsync(new CardDetails(number, 12, 2030, "123", "Ada Lovelace"), CancellationToken.None).GetAwaiter().GetResult();
        return result.Card ?? throw new InvalidOperationException(result.Error?.Message);
    }

    private void Command(IActorRef account, IAccountMessage message)
    {
        account.Tell(message, TestActor);
        var result = ExpectMsg<AccountCommandResult>();
        Assert.Null(result.Outcome.Refusal);
    }

    private static readonly Plan PerCall = new("calls", "Calls", "USD", 0, PlanInterval.Month,
        new Dictionary<string, decimal>(), new Dictionary<string, OveragePrice> { ["call"] = new PerUnitPrice(1m) });

    [Fact]
    public void Funds_are_charged_once_per_idempotency_key_and_usage_under_the_threshold_recharges_once()
    {
        var account = Start("b1");
        var card = Tokenize("4242424242424242");
        Command(account, new AddAccountPaymentMethod("b1", card, MakeDefault: true));
        account.Tell(new AddAccountFunds("b1", 20m, null, "key-1"), TestActor);
        var funds = ExpectMsg<FundsResult>();
        Assert.Equal(PurchaseStatus.Succeeded, funds.Purchase!.Status);
        account.Tell(new AddAccountFunds("b1", 20m, null, "key-1"), TestActor);
        Assert.Equal(funds.Purchase.Id, ExpectMsg<FundsResult>().Purchase!.Id);

        Command(account, new SubscribeAccount("b1", PerCall, null));
        Command(account, new ConfigureAccountAutoRecharge("b1", new AutoRechargeSettings(true, 10m, 30m, null)));
        account.Tell(new RecordAccountUsage("b1", [Usage("c1", "call", 12, 0, 0)]), TestActor);
        ExpectMsg<UsageAccepted>();
        account.Tell(new RecordAccountUsage("b1", [Usage("c2", "call", 1, 0, 1)]), TestActor);
        ExpectMsg<UsageAccepted>();

        AwaitAssert(() => Assert.Equal(37m, Overview(account, "b1").Balance), TimeSpan.FromSeconds(5));
        Assert.Equal(2, _gateway.SucceededChargeCount(card.Token));
        Assert.Equal("Auto-recharge", Overview(account, "b1").LastPurchase?.Description);
    }

    [Fact]
    public void A_crash_after_the_gateway_charged_but_before_the_answer_was_persisted_charges_once()
    {
        var card = Tokenize("4242424242424242");
        var account = Start("b2", gateway: new AnswerLosingGateway(_gateway));
        Command(account, new AddAccountPaymentMethod("b2", card, MakeDefault: true));
        account.Tell(new AddAccountFunds("b2", 15m, null, "crash-key"), TestActor);
        AwaitCondition(() => _gateway.SucceededChargeCount(card.Token) == 1, TimeSpan.FromSeconds(5));

        Watch(account);
        Sys.Stop(account);
        ExpectTerminated(account);

        var again = Start("b2");
        AwaitAssert(() => Assert.Equal(15m, Overview(again, "b2").Balance), TimeSpan.FromSeconds(5));
        Assert.Equal(1, _gateway.SucceededChargeCount(card.Token));
        again.Tell(new AddAccountFunds("b2", 15m, null, "crash-key"), TestActor);
        Assert.Equal(PurchaseStatus.Succeeded, ExpectMsg<FundsResult>().Purchase!.Status);
        Assert.Equal(1, _gateway.SucceededChargeCount(card.Token));
    }

    [Fact]
    public async Task A_recharge_retry_whose_timer_fires_before_the_accounts_clock_reaches_it_is_not_dropped()
    {
        var account = Start("b4");
        Command(account, new AddAccountPaymentMethod("b4", Tokenize("4000000000000002"), MakeDefault: true));
        Command(account, new ConfigureAccountAutoRecharge("b4", new AutoRechargeSettings(true, 5m, 20m, null)));
        await AwaitConditionAsync(async () => await _gateway.FindChargeAsync("b4/pur_1", CancellationToken.None) is not null, TimeSpan.FromSeconds(5));

        // The retry timer (100 ms) fires while the account's clock stands still, short of the backoff.
        await Task.Delay(500);
        Assert.Null(await _gateway.FindChargeAsync("b4/pur_2", CancellationToken.None));
        // Once the clock has passed it, the retry still comes, with no message from outside.
        _time.Advance(TimeSpan.FromMinutes(1));
        await AwaitConditionAsync(async () => await _gateway.FindChargeAsync("b4/pur_2", CancellationToken.None) is not null, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_declined_card_is_reported_and_recharge_stops_after_the_allowed_attempts()
    {
        var account = Start("b3");
        var card = Tokenize("4000000000000002");
        Command(account, new AddAccountPaymentMethod("b3", card, MakeDefault: true));
        account.Tell(new AddAccountFunds("b3", 10m, null, "k"), TestActor);
        var funds = ExpectMsg<FundsResult>();
        Assert.Equal(PurchaseStatus.Failed, funds.Purchase!.Status);
        Assert.Equal("card_declined", funds.Purchase.FailureCode);

        Command(account, new ConfigureAccountAutoRecharge("b3", new AutoRechargeSettings(true, 5m, 20m, null)));
        // Retries are timed by the actor's scheduler and checked against the account's clock: move both.
        AwaitAssert(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            Assert.StartsWith("card_declined", Overview(account, "b3").AutoRechargeSuspendedReason);
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(50));
        // Exactly the allowed attempts, and none after the suspension.
        _time.Advance(TimeSpan.FromHours(1));
        await Task.Delay(300);
        // pur_1 was the declined funds; pur_2..pur_4 the three recharge attempts; nothing after.
        Assert.NotNull(await _gateway.FindChargeAsync("b3/pur_4", CancellationToken.None));
        Assert.Null(await _gateway.FindChargeAsync("b3/pur_5", CancellationToken.None));
        var overview = Overview(account, "b3");
        Assert.Equal(0m, overview.Balance);
        Assert.Null(overview.LastPurchase);
    }
}
