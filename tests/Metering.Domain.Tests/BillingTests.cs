using CsCheck;
using Metering.Domain.Accounts;
using Metering.Domain.Payments;
using Metering.Domain.Plans;
using Metering.Domain.Pricing;
using Metering.Domain.Usage;

namespace Metering.Domain.Tests;

public class BillingTests
{
    private static readonly DateTimeOffset T0 = UsageGen.T0;
    private static readonly PaymentCard Visa = new("tok_visa", "visa", CardFunding.Credit, "4242", 12, 2030, "Ada Lovelace");

    private static Plan Plan(string id, decimal fee, Dictionary<string, decimal> quotas, Dictionary<string, OveragePrice> overage) =>
        new(id, id, "USD", fee, PlanInterval.Month, quotas, overage);

    private static Account Run(Account account, IAccountCommand command) => Run(account, command, out _);

    private static Account Run(Account account, IAccountCommand command, out IReadOnlyList<IAccountEvent> events)
    {
        events = command switch
        {
            RecordUsage c => account.Decide(c).Events,
            Subscribe c => account.Decide(c).Events,
            CancelSubscription c => account.Decide(c).Events,
            AddPaymentMethod c => account.Decide(c).Events,
            RemovePaymentMethod c => account.Decide(c).Events,
            ConfigureAutoRecharge c => account.Decide(c).Events,
            AddFunds c => account.Decide(c).Events,
            RecordPaymentResult c => account.Decide(c).Events,
            RetryRecharge c => account.Decide(c).Events,
            _ => throw new ArgumentOutOfRangeException(nameof(command)),
        };
        foreach (var e in events) account.Apply(e);
        return account;
    }

    private static long _offset;

    private static RecordUsage Usage(string meter, decimal quantity, string? team = null, DateTimeOffset? at = null) =>
        new([new UsageRecord("crm", $"u-{Interlocked.Increment(ref _offset)}", meter, quantity, T0, team, null, new KafkaPosition(0, _offset))], at ?? T0);

    private static Account Funded(decimal amount)
    {
        var account = Run(new Account("a", AccountSettings.Default), new AddPaymentMethod(Visa, true, T0));
        Run(account, new AddFunds(amount, null, $"seed-{amount}", T0), out var events);
        var purchase = events.OfType<PaymentRequested>().Single();
        return Run(account, new RecordPaymentResult(purchase.PurchaseId, true, "ch_1", null, null, T0));
    }

    [Fact]
    public void Two_plans_quotas_add_up_before_overage_starts()
    {
        var account = Funded(100);
        Run(account, new Subscribe(Plan("a", 0, new() { ["call"] = 10 }, new() { ["call"] = new PerUnitPrice(0.50m) }), null, T0));
        Run(account, new Subscribe(Plan("b", 0, new() { ["call"] = 5 }, new()), null, T0));

        Run(account, Usage("call", 15));
        Assert.Equal(100m, account.Balance);
        Run(account, Usage("call", 3));
        Assert.Equal(98.50m, account.Balance);
        Assert.Equal([10m, 5m], account.Subscriptions.Select(s => s.Used["call"]));
        Assert.Equal(3m, account.Subscriptions[0].Overage["call"]);
    }

    [Fact]
    public void A_teams_usage_draws_its_own_plan_first_and_other_teams_never_touch_it()
    {
        var account = Funded(100);
        Run(account, new Subscribe(Plan("wide", 0, new() { ["lead"] = 100 }, new()), null, T0));
        Run(account, new Subscribe(Plan("sales", 0, new() { ["lead"] = 10 }, new()), "sales", T0));

        Run(account, Usage("lead", 4, team: "sales"));
        Run(account, Usage("lead", 7, team: "support"));
        Run(account, Usage("lead", 8, team: "sales"));

        var (wide, sales) = (account.Subscriptions[0], account.Subscriptions[1]);
        Assert.Equal(10m, sales.Used["lead"]);
        Assert.Equal(7m + 2m, wide.Used["lead"]);
        Assert.Equal(["sales", "wide"], account.DrawOrder("sales").Select(s => s.Plan.Id));
        Assert.Equal(["wide"], account.DrawOrder(null).Select(s => s.Plan.Id));
    }

    [Fact]
    public void A_charge_the_wallet_cannot_cover_becomes_pending_and_funds_settle_it_first()
    {
        var account = Funded(5);
        Run(account, new Subscribe(Plan("p", 0, new(), new() { ["email"] = new PerUnitPrice(0.01m) }), null, T0));
        Run(account, Usage("email", 800));
        Assert.Equal(0m, account.Balance);
        Assert.Equal(3m, account.PendingBalance);

        Run(account, new AddFunds(10, null, "k2", T0), out var events);
        Run(account, new RecordPaymentResult(events.OfType<PaymentRequested>().Single().PurchaseId, true, "ch_2", null, null, T0));
        Assert.Equal(7m, account.Balance);
        Assert.Equal(0m, account.PendingBalance);
        Assert.Equal(["funds", "funds"], account.Ledger.Select(l => l.Kind));
    }

    [Fact]
    public void The_plan_fee_is_charged_when_subscribing()
    {
        var account = Funded(60);
        Run(account, new Subscribe(Plan("pro", 49, new(), new()), null, T0));
        Assert.Equal(11m, account.Balance);
        Assert.Equal(-49m, account.Ledger[^1].Amount);
    }

    [Fact]
    public void A_retried_add_funds_with_the_same_key_adds_once()
    {
        var account = Funded(0.01m);
        var first = account.Decide(new AddFunds(25, null, "same", T0));
        foreach (var e in first.Events) account.Apply(e);
        var again = account.Decide(new AddFunds(25, null, "same", T0));
        Assert.Empty(again.Events);
        Assert.Equal(first.Outcome.Id, again.Outcome.Id);
        Assert.Equal("idempotency_key_reused", account.Decide(new AddFunds(30, null, "same", T0)).Outcome.Refusal?.Code);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(10.001)]
    [InlineData(100_000.01)]
    public void Invalid_amounts_are_refused(decimal amount) =>
        Assert.Equal("invalid_amount", Funded(1).Decide(new AddFunds(amount, null, "k", T0)).Outcome.Refusal?.Code);

    [Fact]
    public void Crossing_the_threshold_requests_exactly_one_recharge_until_it_is_answered()
    {
        var account = Funded(20);
        Run(account, new ConfigureAutoRecharge(new AutoRechargeSettings(true, 10, 50, null), T0));
        Run(account, new Subscribe(Plan("p", 0, new(), new() { ["call"] = new PerUnitPrice(1) }), null, T0));

        Run(account, Usage("call", 11), out var events);
        var recharge = Assert.Single(events.OfType<PaymentRequested>());
        Assert.Equal(PurchaseKind.Recharge, recharge.Kind);
        Assert.Equal(50m, recharge.Amount);

        Run(account, Usage("call", 5), out events);
        Assert.Empty(events.OfType<PaymentRequested>());

        Run(account, new RecordPaymentResult(recharge.PurchaseId, true, "ch_r", null, null, T0));
        Assert.Equal(54m, account.Balance);
        Assert.Equal("Auto-recharge", account.LastPurchase?.Description);
    }

    [Fact]
    public void A_declined_recharge_is_retried_after_backoff_and_then_suspended()
    {
        var settings = AccountSettings.Default with { RechargeRetryBackoff = TimeSpan.FromSeconds(10), MaxRechargeAttempts = 3 };
        var account = new Account("a", settings);
        Run(account, new AddPaymentMethod(Visa, true, T0));
        Run(account, new ConfigureAutoRecharge(new AutoRechargeSettings(true, 10, 50, null), T0), out var events);
        var attempts = 0;
        var at = T0;
        while (events.OfType<PaymentRequested>().SingleOrDefault() is { } request)
        {
            attempts++;
            Assert.Equal(attempts, request.Attempt);
            Run(account, new RecordPaymentResult(request.PurchaseId, false, null, "card_declined", "Declined", at));
            // Not before the backoff, and never while suspended.
            Assert.Empty(account.Decide(new RetryRecharge(at.AddSeconds(1))).Events);
            at = account.RechargeRetryDueAt ?? at.AddDays(0.5);
            Run(account, new RetryRecharge(at), out events);
        }
        Assert.Equal(3, attempts);
        Assert.StartsWith("card_declined", account.AutoRechargeSuspendedReason);
        Assert.Equal(0m, account.Balance);

        // Changing the settings lifts the suspension.
        Run(account, new ConfigureAutoRecharge(new AutoRechargeSettings(true, 10, 50, null), at), out events);
        Assert.Single(events.OfType<PaymentRequested>());
    }

    [Fact]
    public void The_daily_cap_stops_a_runaway()
    {
        var account = Funded(0.01m);
        Run(account, new ConfigureAutoRecharge(new AutoRechargeSettings(true, 1_000, 1, null), T0), out var events);
        var recharges = 0;
        for (var i = 0; i < 20; i++)
        {
            if (events.OfType<PaymentRequested>().SingleOrDefault() is { } r)
            {
                recharges++;
                Run(account, new RecordPaymentResult(r.PurchaseId, true, $"ch_{i}", null, null, T0));
            }
            Run(account, new RetryRecharge(T0.AddMinutes(i)), out events);
        }
        Assert.Equal(AccountSettings.Default.RechargeDailyCap, recharges);
        Run(account, new RetryRecharge(T0.AddDays(1)), out events);
        Assert.Single(events.OfType<PaymentRequested>());
    }

    [Fact]
    public void The_card_auto_recharge_uses_cannot_be_removed_and_the_default_moves_on()
    {
        var account = Funded(1);
        Run(account, new AddPaymentMethod(Visa with { Token = "tok_2", Last4 = "4444" }, false, T0));
        Run(account, new ConfigureAutoRecharge(new AutoRechargeSettings(true, 0, 10, null), T0));
        Assert.Equal("payment_method_in_use", account.Decide(new RemovePaymentMethod("pm_1", T0)).Outcome.Refusal?.Code);

        Run(account, new ConfigureAutoRecharge(AutoRechargeSettings.Off, T0));
        Run(account, new RemovePaymentMethod("pm_1", T0));
        Assert.Equal("pm_2", account.DefaultPaymentMethodId);
        Assert.Equal("not_found", account.Decide(new RemovePaymentMethod("pm_1", T0)).Outcome.Refusal?.Code);
    }

    /// <summary>Random plans of every model, random usage, random batching: the money rules hold.</summary>
    [Fact]
    public void Property_total_charged_equals_the_price_of_the_overage_in_one_go_and_the_wallet_balances()
    {
        var tiers = Gen.Int[1, 50].Array[1, 3].Select(bounds =>
        {
            var upTo = 0m;
            return bounds.Select((b, i) => new PriceTier(i == bounds.Length - 1 ? null : upTo += b, 0.01m * (i + 1), i)).ToArray();
        });
        var price = Gen.OneOf<OveragePrice>(
            Gen.Int[1, 200].Select(c => (OveragePrice)new PerUnitPrice(c / 100m)),
            Gen.Select(Gen.Int[1, 20], Gen.Int[1, 500]).Select((s, p) => (OveragePrice)new PackagePrice(s, p / 100m)),
            tiers.Select(t => (OveragePrice)new GraduatedPrice(t)),
            tiers.Select(t => (OveragePrice)new VolumePrice(t)));

        Gen.Select(Gen.Int[0, 30], price, Gen.Int[1, 9].Array[1, 40], Gen.Int[0, 100].Array[0, 5], Gen.Int[0, 3000])
            .Sample((quota, overagePrice, quantities, cuts, funds) =>
            {
                var account = funds == 0 ? new Account("a", AccountSettings.Default) : Funded(funds / 100m);
                Run(account, new Subscribe(Plan("p", 0, new() { ["call"] = quota }, new() { ["call"] = overagePrice }), null, T0));
                var stream = quantities.Select((q, i) => new UsageRecord("crm", $"p-{i}", "call", q, T0, null, null, new KafkaPosition(0, i))).ToArray();
                decimal used = 0;
                foreach (var batch in UsageGen.Split(stream, cuts))
                {
                    Run(account, new RecordUsage(batch, T0));
                    var sub = account.Subscriptions[0];
                    // No overage while quota is left.
                    Assert.True(sub.Overage.GetValueOrDefault("call") == 0 || sub.Used.GetValueOrDefault("call") == quota);
                    Assert.True(sub.Used.GetValueOrDefault("call") <= quota);
                    used += batch.Sum(r => r.Quantity);
                }

                var overage = Math.Max(0, used - quota);
                var charged = account.Subscriptions[0].Charged.GetValueOrDefault("call");
                Assert.Equal(Rating.Round(overagePrice.PriceOf(overage)), charged);
                // balance - pending = funds - charges (+ credits, which are negative charges)
                Assert.Equal(funds / 100m - charged, account.Balance - account.PendingBalance);
                Assert.True(account.Balance >= 0 && account.PendingBalance >= 0);
            }, iter: 300);
    }

    [Fact]
    public void Property_a_snapshot_of_a_billing_account_restores_the_same_money()
    {
        Gen.Int[1, 20].Array[1, 20].Sample(quantities =>
        {
            var account = Funded(10);
            Run(account, new Subscribe(Plan("p", 1, new() { ["call"] = 5 }, new() { ["call"] = new GraduatedPrice([new(10, 0.1m), new(null, 0.05m, 1)]) }), "t", T0));
            Run(account, new ConfigureAutoRecharge(new AutoRechargeSettings(true, 5, 20, null), T0));
            foreach (var q in quantities) Run(account, Usage("call", q, "t"));
            var restored = Account.FromSnapshot(account.ToSnapshot(), AccountSettings.Default);
            Assert.Equal((account.Balance, account.PendingBalance), (restored.Balance, restored.PendingBalance));
            Assert.Equal(account.Subscriptions[0].Charged, restored.Subscriptions[0].Charged);
            Assert.Equal(account.PendingPurchases.Select(p => p.GatewayKey), restored.PendingPurchases.Select(p => p.GatewayKey));
            Assert.Equal(account.Ledger, restored.Ledger);
            Run(account, Usage("call", 7, "t"), out var a);
            Run(restored, new RecordUsage(((UsageRecorded)a[0]).Accepted, T0), out var b);
            Assert.Equal(account.Balance, restored.Balance);
        }, iter: 100);
    }

    [Fact]
    public void Property_draws_and_charges_per_team_and_user_add_up_to_the_usage_and_to_the_batchs_charge()
    {
        string?[] teams = ["sales", "support", null];
        string?[] users = ["ana", "bo", null];
        var price = new GraduatedPrice([new(7, 0.13m), new(null, 0.07m, 1)]);
        Gen.Select(Gen.Int[1, 9], Gen.Int[0, 2], Gen.Int[0, 2]).Array[1, 30].Array[1, 6].Sample(batches =>
        {
            var account = Funded(1_000);
            Run(account, new Subscribe(Plan("wide", 0, new() { ["call"] = 10 }, new() { ["call"] = price }), null, T0));
            Run(account, new Subscribe(Plan("team", 0, new() { ["call"] = 4 }, new()), "sales", T0));
            foreach (var batch in batches)
            {
                var records = batch.Select(r => new UsageRecord("crm", $"d-{Interlocked.Increment(ref _offset)}", "call", r.Item1, T0, teams[r.Item2], users[r.Item3],
                    new KafkaPosition(0, _offset))).ToArray();
                var overageBefore = account.Subscriptions[0].Overage.GetValueOrDefault("call");
                Run(account, new RecordUsage(records, T0), out var events);
                var e = events.OfType<UsageRecorded>().Single();

                // The wide plan prices calls, so every unit is drawn or charged, and to the team and user that used it.
                foreach (var g in records.GroupBy(r => (r.Team, r.User)))
                    Assert.Equal(g.Sum(r => r.Quantity),
                        e.Draws!.Where(d => (d.Team, d.User) == g.Key).Sum(d => d.Quantity) + e.Charges!.Where(c => (c.Team, c.User) == g.Key).Sum(c => c.Quantity));
                Assert.All(e.Draws!.Where(d => d.PlanId == "team"), d => Assert.Equal("sales", d.Team));
                Assert.Equal(Rating.Charge(price, overageBefore, account.Subscriptions[0].Overage.GetValueOrDefault("call")), e.Charges!.Sum(c => c.Amount));
            }
        }, iter: 200);
    }
}
