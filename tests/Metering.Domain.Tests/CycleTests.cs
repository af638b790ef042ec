using Metering.Domain.Accounts;
using Metering.Domain.Payments;
using Metering.Domain.Plans;
using Metering.Domain.Pricing;
using Metering.Domain.Usage;

namespace Metering.Domain.Tests;

public class CycleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 31, 10, 0, 0, TimeSpan.Zero);
    private static readonly PaymentCard Visa = new("tok_visa", "visa", CardFunding.Credit, "4242", 12, 2030, "Ada Lovelace");
    private long _offset;

    private static Plan Monthly(string id, decimal fee, decimal quota) =>
        new(id, id, "USD", fee, PlanInterval.Month, new Dictionary<string, decimal> { ["call"] = quota },
            new Dictionary<string, OveragePrice> { ["call"] = new PerUnitPrice(1m) });

    private static IReadOnlyList<IAccountEvent> Run<T>(Account account, Decision<T> decision)
    {
        foreach (var e in decision.Events) account.Apply(e);
        return decision.Events;
    }

    private void Use(Account account, decimal quantity, DateTimeOffset at) =>
        Run(account, account.Decide(new RecordUsage([new UsageRecord("crm", $"c-{_offset}", "call", quantity, at, null, null, new KafkaPosition(0, _offset++))], at)));

    private static Account Funded(decimal amount, DateTimeOffset at)
    {
        var account = new Account("acct", AccountSettings.Default);
        Run(account, account.Decide(new AddPaymentMethod(Visa, true, at)));
        var request = Run(account, account.Decide(new AddFunds(amount, null, "seed", at))).OfType<PaymentRequested>().Single();
        Run(account, account.Decide(new RecordPaymentResult(request.PurchaseId, true, "ch", null, null, at)));
        return account;
    }

    [Fact]
    public void A_year_of_monthly_cycles_with_two_plans_invoices_every_period_without_gaps_and_a_restart_changes_nothing()
    {
        Account Year(bool restartHalfway)
        {
            _offset = 0;
            var account = Funded(1_000, T0);
            Run(account, account.Decide(new Subscribe(Monthly("a", 10, 10), null, T0)));
            Run(account, account.Decide(new Subscribe(Monthly("b", 5, 10), null, T0)));
            var at = T0;
            for (var month = 0; month < 12; month++)
            {
                var period = account.Subscriptions[0];
                Use(account, 25, period.PeriodStart.AddDays(3));   // 20 included, 5 overage at 1.00
                Assert.Equal(10m, period.Used["call"]);
                at = period.PeriodEnd.AddHours(1);
                Run(account, account.Decide(new AdvanceClock(at)));
                Assert.All(account.Subscriptions, s => Assert.Empty(s.Used));
                if (restartHalfway && month == 5) account = Account.FromSnapshot(account.ToSnapshot(), AccountSettings.Default);
            }
            return account;
        }

        var account = Year(restartHalfway: false);
        var subscriptionInvoices = account.Invoices.Where(i => i.Kind == InvoiceKind.Subscription).ToList();
        Assert.Equal(2 + 2 * 12, subscriptionInvoices.Count);
        Assert.Single(account.Invoices, i => i.Kind == InvoiceKind.Receipt);
        Assert.Equal(Enumerable.Range(1, account.Invoices.Count).Select(n => $"acct-{n:000000}"), account.Invoices.Select(i => i.Number));
        Assert.All(account.Invoices, i => Assert.Equal(i.Total, i.Lines.Sum(l => l.Amount) + i.Tax));
        // The overage of each closed period is on the invoice that renews it: 5 calls at 1.00 on plan a.
        Assert.Equal(12, subscriptionInvoices.Count(i => i.Lines.Any(l => l.Description.Contains("overage") && l.Amount == 5m)));
        Assert.All(account.Subscriptions, s =>
        {
            Assert.Equal(13, s.Periods.Count);
            Assert.All(s.Periods, p => Assert.NotNull(p.InvoiceId));
            Assert.Equal(s.Periods.Skip(1).Select(p => p.Start), s.Periods.SkipLast(1).Select(p => p.End));
        });
        // Anchored on Jan 31 at midnight: periods end on the last day of short months, never drift.
        Assert.Equal(new DateTimeOffset(2026, 2, 28, 0, 0, 0, TimeSpan.Zero), account.Subscriptions[0].Periods[0].End);
        Assert.Equal(new DateTimeOffset(2026, 3, 31, 0, 0, 0, TimeSpan.Zero), account.Subscriptions[0].Periods[1].End);
        // Money: 13 fees of 15 and 12 × 5 overage.
        Assert.Equal(1_000m - 13 * 15m - 12 * 5m, account.Balance);

        var restarted = Year(restartHalfway: true);
        static object Shape(Invoice i) => (i.Number, i.Kind, i.PeriodStart, i.PeriodEnd, i.Total, i.AmountPaid, i.AmountDue, i.Status, string.Join("|", i.Lines));
        Assert.Equal(account.Invoices.Select(Shape), restarted.Invoices.Select(Shape));
        Assert.Equal(account.Balance, restarted.Balance);
        Assert.Equal(account.Notifications.Select(n => n.Cause), restarted.Notifications.Select(n => n.Cause));
    }

    [Fact]
    public void A_monthly_plan_taken_mid_cycle_is_prorated_by_day()
    {
        var start = new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.Zero);
        var account = Funded(100, start);
        Use(account, 1, start);                                  // anchors the cycle on Nov 1
        Run(account, account.Decide(new Subscribe(Monthly("p", 30, 0), null, start.AddDays(15))));
        var invoice = account.Invoices[^1];
        Assert.Equal(15m, invoice.Total);                        // 30 × 15 days left / 30 days
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), account.Subscriptions[0].PeriodEnd);
    }

    [Fact]
    public void Canceling_at_period_end_keeps_the_plan_until_then_and_bills_its_overage_last()
    {
        var account = Funded(100, T0);
        Run(account, account.Decide(new Subscribe(Monthly("p", 10, 5), null, T0)));
        Run(account, account.Decide(new CancelSubscription("sub_1", AtPeriodEnd: true, T0.AddDays(1))));
        Use(account, 7, T0.AddDays(2));
        var end = account.Subscriptions[0].PeriodEnd;
        Run(account, account.Decide(new AdvanceClock(end.AddDays(1))));

        var sub = account.Subscriptions[0];
        Assert.Equal(SubscriptionStatus.Ended, sub.Status);
        Assert.Equal(end, sub.EndedAt);
        var last = account.Invoices[^1];
        Assert.Equal([2m], last.Lines.Select(l => l.Amount));
        Assert.Equal(100m - 10m - 2m, account.Balance);
    }

    [Fact]
    public void Reminders_come_the_configured_days_before_and_exactly_once()
    {
        var account = Funded(5, T0);
        Run(account, account.Decide(new UpdatePreferences(Preferences.Default with
        {
            Notifications = NotificationSettings.Default with { RenewalReminderDays = 5, InvoiceDueReminderDays = 2 },
            BillingInfo = new BillingInfo("Acme", "billing@acme.test", "Gran Vía 1", "ES", "B123"),
        }, T0)));
        Run(account, account.Decide(new Subscribe(Monthly("p", 10, 0), null, T0)));
        var invoice = account.Invoices[^1];
        Assert.Equal(0.21m, invoice.TaxRate);
        Assert.Equal(12.10m, invoice.Total);
        Assert.Equal(InvoiceStatus.Open, invoice.Status);
        Assert.Equal(7.10m, invoice.AmountDue);

        var end = account.Subscriptions[0].PeriodEnd;
        for (var at = T0; at < end.AddDays(-1); at = at.AddHours(12))
            Run(account, account.Decide(new AdvanceClock(at)));

        var types = account.Notifications.Select(n => n.Type).ToList();
        Assert.Equal(1, types.Count(t => t == "renewal.upcoming"));
        Assert.Equal(1, types.Count(t => t == "invoice.due_soon"));
        Assert.Equal(1, types.Count(t => t == "invoice.overdue"));
        var renewal = account.Notifications.Single(n => n.Type == "renewal.upcoming");
        Assert.InRange(renewal.At, end.AddDays(-5), end.AddDays(-5).AddHours(12));
        var due = account.Notifications.Single(n => n.Type == "invoice.due_soon");
        Assert.InRange(due.At, invoice.DueAt.AddDays(-2), invoice.DueAt.AddDays(-2).AddHours(12));

        // Funds settle the open invoice.
        var request = Run(account, account.Decide(new AddFunds(20, null, "pay", end.AddDays(-1)))).OfType<PaymentRequested>().Single();
        Run(account, account.Decide(new RecordPaymentResult(request.PurchaseId, true, "ch2", null, null, end.AddDays(-1))));
        Assert.Equal(InvoiceStatus.Paid, account.Invoices.Single(i => i.Id == invoice.Id).Status);
    }

    [Fact]
    public void Preferences_are_validated_field_by_field()
    {
        var account = new Account("a", AccountSettings.Default);
        var bad = Preferences.Default with
        {
            BillingInfo = new BillingInfo(null, "not-an-email", null, "spain", null),
            Notifications = NotificationSettings.Default with { Channels = ["webhook"], WebhookUrl = "ftp://x" },
        };
        var refusal = account.Decide(new UpdatePreferences(bad, T0)).Outcome.Refusal!;
        Assert.Contains("billingInfo.email", refusal.Message);
        Assert.Contains("billingInfo.country", refusal.Message);
        Assert.Contains("notifications.webhookUrl", refusal.Message);
    }

    [Fact]
    public void Usage_leaves_the_next_due_moment_as_it_was_and_a_cancellation_moves_it()
    {
        var account = Funded(100, T0);
        Run(account, account.Decide(new Subscribe(Monthly("p", 0, 10), null, T0)));
        var period = account.Subscriptions[0];
        var reminder = period.PeriodEnd.AddDays(-account.Preferences.Notifications.RenewalReminderDays);
        Assert.Equal(reminder, account.NextDueAt);

        Use(account, 9, T0.AddDays(1)); // past 80 % of the quota: a notification of its own
        Assert.Contains(account.Notifications, n => n.Type == "quota.threshold");
        Assert.Equal(reminder, account.NextDueAt);
        // Worked out afresh from the same state, it is the same moment.
        Assert.Equal(reminder, Account.FromSnapshot(account.ToSnapshot(), AccountSettings.Default).NextDueAt);

        // Cancelled at the period's end, the renewal is not reminded: the period's end is next.
        Run(account, account.Decide(new CancelSubscription(period.Id, true, T0.AddDays(2))));
        Assert.Equal(period.PeriodEnd, account.NextDueAt);
    }

    [Fact]
    public void Quota_thresholds_are_told_at_80_and_100_percent_once_per_period()
    {
        var account = Funded(100, T0);
        Run(account, account.Decide(new Subscribe(Monthly("p", 0, 10), null, T0)));
        Use(account, 7, T0);
        Use(account, 1, T0);
        Use(account, 5, T0);
        Use(account, 1, T0);
        Assert.Equal(["80", "100"], account.Notifications.Where(n => n.Type == "quota.threshold").Select(n => n.Data["percent"]));
    }
}
