using CsCheck;
using Metering.Domain.Accounts;
using Metering.Domain.Insights;
using Metering.Domain.Payments;
using Metering.Domain.Plans;
using Metering.Domain.Pricing;
using Metering.Domain.Usage;

namespace Metering.Domain.Tests;

/// <summary>An account driven by commands, keeping its journal as the actor would persist it.</summary>
internal sealed class Journaled
{
    private static readonly PaymentCard Visa = new("tok_visa", "visa", CardFunding.Credit, "4242", 12, 2030, "Ada Lovelace");
    private long _offset;

    public Account Account { get; } = new("a", AccountSettings.Default);
    public List<IAccountEvent> Journal { get; } = [];

    public IReadOnlyList<IAccountEvent> Run(Decision<Outcome> decision) => Persist(decision.Events);

    public IReadOnlyList<IAccountEvent> Persist(IReadOnlyList<IAccountEvent> events)
    {
        foreach (var e in events)
        {
            Account.Apply(e);
            Journal.Add(e);
        }
        return events;
    }

    public void Card(DateTimeOffset at) => Run(Account.Decide(new AddPaymentMethod(Visa, true, at)));

    /// <summary>Funds the gateway accepted at once, as the sandbox does with 4242.</summary>
    public void Funds(decimal amount, DateTimeOffset at)
    {
        var requested = Run(Account.Decide(new AddFunds(amount, null, $"k-{Journal.Count}", at))).OfType<PaymentRequested>().Single();
        Run(Account.Decide(new RecordPaymentResult(requested.PurchaseId, true, "ch", null, null, at)));
    }

    public void Subscribe(Plan plan, DateTimeOffset at, string? team = null) => Run(Account.Decide(new Subscribe(plan, team, at)));

    /// <summary>Catches up with time first, as the actor does before every message.</summary>
    public void Use(DateTimeOffset at, params (string Meter, decimal Quantity)[] usage) => UseAs(null, at, usage);

    public void UseAs(string? team, DateTimeOffset at, params (string Meter, decimal Quantity)[] usage)
    {
        Persist(Account.Decide(new AdvanceClock(at)).Events);
        var records = usage.Select(u => new UsageRecord("crm", $"e-{++_offset}", u.Meter, u.Quantity, at, team, null, new KafkaPosition(0, _offset))).ToArray();
        Persist(Account.Decide(new RecordUsage(records, at)).Events);
    }
}

public class AccountReplayTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly Plan Calls = new("calls", "Calls", "USD", 10m, PlanInterval.Month,
        new Dictionary<string, decimal> { ["call"] = 5 }, new Dictionary<string, OveragePrice> { ["call"] = new PerUnitPrice(0.35m) });

    /// <summary>Steps: 0 adds funds, 1 uses calls, 2 takes another plan; each a minute after the last.</summary>
    private static readonly Gen<(int Kind, int Amount)[]> Steps = Gen.Select(Gen.Int[0, 2], Gen.Int[1, 40]).Array[1, 25];

    [Fact]
    public void The_account_replayed_to_any_instant_is_the_live_account_at_that_instant()
    {
        Steps.Sample(steps =>
        {
            var live = new Journaled();
            live.Card(T0);
            var seen = new List<(DateTimeOffset At, decimal Balance, decimal Pending)>();
            for (var i = 0; i < steps.Length; i++)
            {
                var at = T0.AddMinutes(i + 1);
                switch (steps[i].Kind)
                {
                    case 0: live.Funds(steps[i].Amount, at); break;
                    case 1: live.Use(at, ("call", steps[i].Amount)); break;
                    default: live.Subscribe(Calls, at); break;
                }
                seen.Add((at, live.Account.Balance, live.Account.PendingBalance));
            }

            foreach (var (at, balance, pending) in seen)
            {
                var replayed = AccountReplay.AsOf("a", AccountSettings.Default, live.Journal, at).Account;
                Assert.Equal((balance, pending), (replayed.Balance, replayed.PendingBalance));
            }
            // Every ledger entry's balance is the replayed balance at its moment.
            foreach (var entry in live.Account.Ledger)
                Assert.Equal(entry.BalanceAfter, AccountReplay.AsOf("a", AccountSettings.Default, live.Journal, entry.At).Account.Balance);
        });
    }

    [Fact]
    public void Before_the_first_event_nothing_is_replayed_and_events_after_the_instant_are_skipped_wherever_they_are()
    {
        var live = new Journaled();
        live.Card(T0);
        live.Funds(50, T0.AddHours(1));
        live.Subscribe(Calls, T0.AddHours(2));

        var before = AccountReplay.AsOf("a", AccountSettings.Default, live.Journal, T0.AddTicks(-1));
        Assert.Equal((0, 0m), (before.EventsReplayed, before.Account.Balance));

        // An event can be journaled after a later-dated one (a renewal caught up late carries its period end).
        var journal = live.Journal.Append(new PaymentRequested("pur_9", PurchaseKind.Funds, "a/pur_9", "late", 5, "USD", "pm_1", "tok", 1, T0.AddDays(3)))
            .Append(new ClockAdvanced(T0.AddHours(3))).ToList();
        var replayed = AccountReplay.AsOf("a", AccountSettings.Default, journal, T0.AddHours(3));
        Assert.Equal(live.Journal.Count + 1, replayed.EventsReplayed);
        Assert.Equal(40m, replayed.Account.Balance);
    }
}

public class RunOutForecastTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 8, 10, 0, 0, TimeSpan.Zero);
    private static readonly AutoRechargeSettings Off = AutoRechargeSettings.Off;

    private static SubscriptionSnapshot Sub(decimal included, decimal used, DateTimeOffset start, DateTimeOffset end) => new(
        "sub_1", new Plan("p", "P", "USD", 0, PlanInterval.Month, new Dictionary<string, decimal> { ["lead"] = included }, new Dictionary<string, OveragePrice>()),
        null, start, start, end, SubscriptionStatus.Active, null, new Dictionary<string, decimal> { ["lead"] = used },
        new Dictionary<string, decimal>(), new Dictionary<string, decimal>(), false, []);

    [Fact]
    public void A_known_burn_runs_the_balance_out_on_the_day_it_lasts_until()
    {
        // 14.00 debited in 7 days is 2.00 a day; 86.00 lasts 43 days.
        var f = RunOutForecast.Compute(86m, Off, false, [], 14m, 7, Now);
        Assert.Equal(2.00m, f.BurnPerDay);
        Assert.Equal(Now.AddDays(43), f.BalanceRunsOutAt);
        Assert.Null(f.AutoRecharge.NextAt);

        var nothing = RunOutForecast.Compute(86m, Off, false, [], 0m, 7, Now);
        Assert.Null(nothing.BalanceRunsOutAt);
        Assert.Equal(Now, RunOutForecast.Compute(0m, Off, false, [], 14m, 7, Now).BalanceRunsOutAt);
    }

    [Fact]
    public void Auto_recharge_keeps_the_balance_up_and_says_when_it_fires_unless_it_is_suspended()
    {
        var on = new AutoRechargeSettings(true, 50m, 20m, null);
        var f = RunOutForecast.Compute(86m, on, false, [], 14m, 7, Now);
        Assert.Null(f.BalanceRunsOutAt);
        Assert.Equal(Now.AddDays(18), f.AutoRecharge.NextAt);   // (86 - 50) / 2
        Assert.Equal(Now, RunOutForecast.Compute(40m, on, false, [], 14m, 7, Now).AutoRecharge.NextAt);

        var suspended = RunOutForecast.Compute(86m, on, true, [], 14m, 7, Now);
        Assert.False(suspended.AutoRecharge.Enabled);
        Assert.Equal(Now.AddDays(43), suspended.BalanceRunsOutAt);
    }

    [Fact]
    public void Run_out_moments_follow_the_straight_line_to_the_second()
    {
        Gen.Select(Gen.Int[0, 100_000], Gen.Int[1, 100_000], Gen.Int[1, 90], Gen.Int[0, 50_000]).Sample((cents, debitedCents, days, thresholdCents) =>
        {
            decimal balance = cents / 100m, debited = debitedCents / 100m, threshold = thresholdCents / 100m;
            var burn = debited / days;
            var off = RunOutForecast.Compute(balance, Off, false, [], debited, days, Now);
            var on = RunOutForecast.Compute(balance, new AutoRechargeSettings(true, threshold, 10m, null), false, [], debited, days, Now);
            if (balance / burn > RunOutForecast.HorizonDays)
            {
                Assert.Null(off.BalanceRunsOutAt);
                return;
            }
            // What is left at the moment is less than one second of burn.
            var left = balance - burn * (decimal)(off.BalanceRunsOutAt!.Value - Now).TotalSeconds / 86_400;
            Assert.InRange(left, -0.000001m, burn / 86_400 + 0.000001m);
            Assert.Null(on.BalanceRunsOutAt);
            Assert.True(on.AutoRecharge.NextAt <= off.BalanceRunsOutAt);
            Assert.Equal(Rating.Round(burn), off.BurnPerDay);
        });
    }

    [Fact]
    public void A_quota_runs_out_at_its_pace_when_that_is_before_its_period_ends()
    {
        var start = Now.AddDays(-1);
        // 30 a day, 70 left: 7/3 days.
        var soon = Assert.Single(RunOutForecast.Compute(0, Off, false, [Sub(100, 30, start, Now.AddDays(20))], 0, 7, Now).Quotas);
        Assert.Equal((70m, 30m, Now.AddSeconds(201_600)), (soon.Remaining, soon.PerDay, soon.RunsOutAt));
        var lasts = Assert.Single(RunOutForecast.Compute(0, Off, false, [Sub(100, 30, start, Now.AddDays(2))], 0, 7, Now).Quotas);
        Assert.Null(lasts.RunsOutAt);
        var spent = Assert.Single(RunOutForecast.Compute(0, Off, false, [Sub(100, 130, start, Now.AddDays(2))], 0, 7, Now).Quotas);
        Assert.Equal((0m, Now), (spent.Remaining, spent.RunsOutAt));
        Assert.Null(Assert.Single(RunOutForecast.Compute(0, Off, false, [Sub(100, 0, start, Now.AddDays(2))], 0, 7, Now).Quotas).RunsOutAt);
    }

    [Fact]
    public void Debits_in_the_window_count_usage_charges_and_invoice_charges_and_nothing_else()
    {
        var journal = new IAccountEvent[]
        {
            new InvoiceIssued("inv_1", "a-1", "sub_1", null, null, [], 0, 19m, null, Now.AddDays(-8), Now),
            new InvoiceIssued("inv_2", "a-2", "sub_1", null, null, [], 0, 10m, null, Now.AddDays(-6), Now),
            new UsageRecorded([], [], 0, Now.AddDays(-1), [], [new OverageCharge("sub_1", "call", 3, 1.5m), new OverageCharge("sub_1", "lead", 8, -0.25m)]),
            new PaymentSucceeded("pur_1", "ch", Now),
        };
        Assert.Equal(11.25m, RunOutForecast.Debited(journal, Now.AddDays(-7), Now));
    }
}

public class PlanFitTests
{
    private static readonly DateTimeOffset Anchor = new(2026, 1, 31, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Closed_periods_are_the_last_whole_cycles_from_the_anchor_without_drift()
    {
        var periods = PlanFit.ClosedPeriods(Anchor, new DateTimeOffset(2026, 4, 5, 0, 0, 0, TimeSpan.Zero), 5);
        Assert.Equal(
            [(new DateTime(2026, 1, 31), new DateTime(2026, 2, 28)), (new DateTime(2026, 2, 28), new DateTime(2026, 3, 31))],
            periods.Select(p => (p.Start.UtcDateTime, p.End.UtcDateTime)));
        Assert.Empty(PlanFit.ClosedPeriods(Anchor, Anchor.AddDays(3), 3));
    }

    [Fact]
    public void A_yearly_plan_counts_a_twelfth_of_its_fee_rounded_to_cents()
    {
        Assert.Equal(165.83m, PlanFit.MonthlyFee(DefaultPlans.AgencyYearly));
        Assert.Equal(49m, PlanFit.MonthlyFee(DefaultPlans.Pro));
    }

    /// <summary>Usage per period for the starter plan, each period's usage cut into batches at random points.</summary>
    private static readonly Gen<(int Leads, int Cuts)[]> Periods = Gen.Select(Gen.Int[0, 3_000], Gen.Int[1, 4]).Array[1, 4];

    [Fact]
    public void A_plan_alone_costs_its_fee_plus_its_rounded_overage_each_period_however_usage_was_batched()
    {
        var start = new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
        Periods.Sample(periods =>
        {
            var live = new Journaled();
            live.Subscribe(DefaultPlans.Starter, start);
            for (var p = 0; p < periods.Length; p++)
            {
                var (leads, cuts) = periods[p];
                var periodStart = start.AddMonths(p);
                for (var c = 0; c < cuts; c++)
                    live.Use(periodStart.AddDays(c + 1), ("lead", leads / cuts + (c == 0 ? leads % cuts : 0)));
            }
            var now = start.AddMonths(periods.Length).AddHours(1);
            var fit = PlanFit.Compare(live.Account, live.Journal, DefaultPlans.All, PlanFit.MaxPeriods, now);

            var starter = fit.Options.Single(o => o.PlanIds is ["starter"]);
            var expected = periods.Select(p => 19m + Rating.Round(Math.Max(0, p.Leads - 500) * 0.05m)).ToArray();
            Assert.Equal(expected, starter.Costs);
            Assert.Equal(periods.Select(p => (decimal)p.Leads), fit.Periods.Select(p => p.Usage.GetValueOrDefault("lead")));
            // The account holds exactly the catalog's starter: it is not listed twice, and it is what it paid.
            Assert.Equal(["starter"], fit.Current.PlanIds);
            Assert.Equal(DefaultPlans.All.Count, fit.Options.Count);
            Assert.Equal(expected.Sum(), fit.Current.Total);
            Assert.Equal(fit.Current.Total - fit.Cheapest!.Total, fit.Saving);
        });
    }

    [Fact]
    public void Current_plans_held_since_the_anchor_cost_what_the_engine_debited_team_scoping_included()
    {
        var start = new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
        var wide = new Plan("wide", "Wide", "USD", 5m, PlanInterval.Month, new Dictionary<string, decimal>(),
            new Dictionary<string, OveragePrice> { ["call"] = new PerUnitPrice(1m) });
        var sales = new Plan("sales", "Sales", "USD", 2m, PlanInterval.Month, new Dictionary<string, decimal> { ["call"] = 5 }, new Dictionary<string, OveragePrice>());
        var live = new Journaled();
        live.Subscribe(wide, start);
        live.Subscribe(sales, start.AddMinutes(1), team: "sales");
        live.UseAs("sales", start.AddDays(1), ("call", 8));   // 5 from the sales plan, 3 priced by wide
        live.UseAs(null, start.AddDays(2), ("call", 3));      // the sales plan never covers other usage
        live.UseAs("sales", start.AddMonths(1).AddDays(1), ("call", 4));
        var fit = PlanFit.Compare(live.Account, live.Journal, [wide], 3, start.AddMonths(2).AddHours(1));

        var current = fit.Options.Single(o => o.PlanIds is ["wide", "sales"]);
        Assert.Equal("Wide + Sales (sales)", current.Label);
        Assert.Equal([7m + 6m, 7m], current.Costs);
        var debited = RunOutForecast.Debited(live.Journal, start.AddTicks(-1), start.AddMonths(2).AddTicks(-1));
        Assert.Equal(debited, fit.Current.Total);
        // Wide alone: the sales calls are no longer covered by a quota.
        Assert.Equal([5m + 11m, 5m + 4m], fit.Options.Single(o => o.PlanIds is ["wide"]).Costs);
        Assert.Equal(["wide", "sales"], fit.Cheapest!.PlanIds);
        Assert.Equal(0m, fit.Saving);
    }

    [Fact]
    public void A_pack_that_prices_only_some_meters_is_listed_but_never_named_cheapest()
    {
        var start = new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero);
        var live = new Journaled();
        live.Use(start.AddHours(1), ("lead", 100), ("email", 500));
        var fit = PlanFit.Compare(live.Account, live.Journal, DefaultPlans.All, 3, start.AddMonths(1).AddHours(1));

        var pack = fit.Options.Single(o => o.PlanIds is ["email-pack"]);
        Assert.False(pack.CoversUsage);
        Assert.Equal([10m], pack.Costs);
        Assert.Equal(["starter"], fit.Cheapest!.PlanIds);
        // No plans now: nothing was charged, so nothing would be saved.
        Assert.Equal((0m, 0m), (fit.Current.Total, fit.Saving));
    }
}
