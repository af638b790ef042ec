using Metering.Domain.Accounts;
using Metering.Domain.Payments;
using Metering.Domain.Plans;
using Metering.Domain.Pricing;

namespace Metering.Domain.Tests;

/// <summary>Voiding and giving up on invoices, and renewals paid by card with the wallet as fallback.</summary>
public class InvoiceLifecycleTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
    private static readonly PaymentCard Visa = new("tok_visa", "visa", CardFunding.Credit, "4242", 12, 2030, "Ada Lovelace");

    private static readonly Plan Pro = new("pro", "Pro", "USD", 30m, PlanInterval.Month, new Dictionary<string, decimal>(), new Dictionary<string, OveragePrice>());

    private static IReadOnlyList<IAccountEvent> Run<T>(Account account, Decision<T> decision)
    {
        foreach (var e in decision.Events) account.Apply(e);
        return decision.Events;
    }

    private static Account WithCard()
    {
        var account = new Account("acct", AccountSettings.Default);
        Run(account, account.Decide(new AddPaymentMethod(Visa, true, T0)));
        return account;
    }

    private static void AddFunds(Account account, decimal amount, string key, DateTimeOffset at)
    {
        var request = Run(account, account.Decide(new AddFunds(amount, null, key, at))).OfType<PaymentRequested>().Single();
        Run(account, account.Decide(new RecordPaymentResult(request.PurchaseId, true, "ch_" + key, null, null, at)));
    }

    /// <summary>An empty wallet subscribed to Pro: invoice inv_1 open with 30 due, all of it pending.</summary>
    private static Account OwingThirty()
    {
        var account = WithCard();
        Run(account, account.Decide(new Subscribe(Pro, null, new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero))));
        var invoice = Assert.Single(account.Invoices);
        Assert.Equal((InvoiceStatus.Open, 30m, 30m), (invoice.Status, invoice.AmountDue, account.PendingBalance));
        return account;
    }

    [Fact]
    public void Voiding_an_open_invoice_removes_what_is_still_due_from_pending_and_keeps_what_was_paid()
    {
        var account = OwingThirty();
        AddFunds(account, 12m, "part", T0.AddHours(1)); // settles 12 of the 30
        Assert.Equal((12m, 18m), (account.Invoices[0].AmountPaid, account.Invoices[0].AmountDue));

        var events = Run(account, account.Decide(new VoidInvoice("inv_1", T0.AddHours(2))));

        Assert.IsType<InvoiceVoided>(Assert.Single(events));
        var voided = account.Invoices[0];
        Assert.Equal((InvoiceStatus.Void, 12m, 0m), (voided.Status, voided.AmountPaid, voided.AmountDue));
        Assert.Equal((0m, 0m), (account.Balance, account.PendingBalance));
        Assert.Contains(account.Notifications, n => n.Type == "invoice.voided");
        Assert.Equal(("void", 18m), (account.Ledger[^1].Kind, account.Ledger[^1].Amount));
        // Funds added later stay in the wallet: nothing is owed any more.
        AddFunds(account, 5m, "after", T0.AddHours(3));
        Assert.Equal((5m, 0m), (account.Balance, account.PendingBalance));
    }

    [Fact]
    public void Only_open_invoices_can_be_voided_or_marked_uncollectible()
    {
        var account = OwingThirty();
        AddFunds(account, 40m, "all", T0.AddHours(1)); // pays inv_1, receipt inv_2
        Assert.Equal(InvoiceStatus.Paid, account.Invoices[0].Status);

        Assert.Equal("invoice_not_open", account.Decide(new VoidInvoice("inv_1", T0)).Outcome.Refusal?.Code);
        Assert.Equal("invoice_not_open", account.Decide(new MarkInvoiceUncollectible("inv_2", T0)).Outcome.Refusal?.Code);
        Assert.Equal("not_found", account.Decide(new VoidInvoice("inv_9", T0)).Outcome.Refusal?.Code);

        var other = OwingThirty();
        Run(other, other.Decide(new VoidInvoice("inv_1", T0)));
        Assert.Equal("invoice_not_open", other.Decide(new VoidInvoice("inv_1", T0)).Outcome.Refusal?.Code);
        Assert.Equal("invoice_not_open", other.Decide(new MarkInvoiceUncollectible("inv_1", T0)).Outcome.Refusal?.Code);
    }

    [Fact]
    public void An_uncollectible_invoice_stays_owed_gets_no_reminders_and_later_funds_still_pay_it()
    {
        var account = OwingThirty();
        Run(account, account.Decide(new MarkInvoiceUncollectible("inv_1", T0.AddHours(1))));
        Assert.Equal((InvoiceStatus.Uncollectible, 30m, 30m), (account.Invoices[0].Status, account.Invoices[0].AmountDue, account.PendingBalance));

        // Past its due date (14 days): no overdue reminder for it.
        Run(account, account.Decide(new AdvanceClock(T0.AddDays(20))));
        Assert.DoesNotContain(account.Notifications, n => n.Type is "invoice.overdue" or "invoice.due_soon");

        AddFunds(account, 50m, "late", T0.AddDays(21));
        Assert.Equal((InvoiceStatus.Paid, 30m, 0m), (account.Invoices[0].Status, account.Invoices[0].AmountPaid, account.Invoices[0].AmountDue));
        Assert.Equal((20m, 0m), (account.Balance, account.PendingBalance));

        var restored = Account.FromSnapshot(account.ToSnapshot(), AccountSettings.Default);
        Assert.Equal(account.Invoices, restored.Invoices);
    }

    private static Account RenewingByCard(decimal wallet)
    {
        var account = WithCard();
        if (wallet > 0) AddFunds(account, wallet, "seed", T0);
        Run(account, account.Decide(new UpdatePreferences(Preferences.Default with { RenewalPayment = RenewalPayment.Card }, T0)));
        Run(account, account.Decide(new Subscribe(Pro, null, new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero))));
        return account;
    }

    [Fact]
    public void A_renewal_paid_by_card_is_requested_before_the_charge_and_paid_without_touching_the_wallet()
    {
        var account = RenewingByCard(wallet: 100m); // the first period's fee is debited from the wallet: 70 left
        Assert.Equal(70m, account.Balance);

        var renewal = Run(account, account.Decide(new AdvanceClock(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero))));

        var invoice = renewal.OfType<InvoiceIssued>().Single();
        var request = renewal.OfType<PaymentRequested>().Single();
        Assert.Equal((0m, 30m), (invoice.ChargeAtIssue, invoice.ChargeToCard));
        Assert.Equal((PurchaseKind.Renewal, 30m, invoice.InvoiceId, "acct/" + request.PurchaseId), (request.Kind, request.Amount, request.InvoiceId, request.GatewayKey));
        // In flight: due on the invoice, not in pending, and funds do not pay it twice.
        Assert.Equal((InvoiceStatus.Open, 30m, 0m), (account.Invoices[^1].Status, account.Invoices[^1].AmountDue, account.PendingBalance));
        Assert.Equal("payment_in_progress", account.Decide(new VoidInvoice(invoice.InvoiceId, T0)).Outcome.Refusal?.Code);
        Assert.Single(account.PendingPurchases);

        Run(account, account.Decide(new RecordPaymentResult(request.PurchaseId, true, "ch_renew", null, null, T0.AddDays(31))));
        // A repeated answer (a resumed call) changes nothing.
        Assert.Empty(account.Decide(new RecordPaymentResult(request.PurchaseId, true, "ch_renew", null, null, T0.AddDays(31))).Events);

        var paid = account.Invoices.Single(i => i.Id == invoice.InvoiceId);
        Assert.Equal((InvoiceStatus.Paid, 30m, 0m), (paid.Status, paid.AmountPaid, paid.AmountDue));
        Assert.Equal((70m, 0m), (account.Balance, account.PendingBalance));
        Assert.Empty(account.PendingPurchases);
    }

    [Fact]
    public void A_declined_renewal_charge_falls_back_to_the_wallet_and_what_it_cannot_cover_stays_due()
    {
        var account = RenewingByCard(wallet: 40m); // 10 left after the first fee
        var request = Run(account, account.Decide(new AdvanceClock(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero)))).OfType<PaymentRequested>().Single();

        Run(account, account.Decide(new RecordPaymentResult(request.PurchaseId, false, null, "card_declined", "Your card was declined.", T0.AddDays(31))));

        var invoice = account.Invoices.Single(i => i.Id == request.InvoiceId);
        Assert.Equal((InvoiceStatus.Open, 10m, 20m), (invoice.Status, invoice.AmountPaid, invoice.AmountDue));
        Assert.Equal((0m, 20m), (account.Balance, account.PendingBalance));
        Assert.Contains(account.Notifications, n => n.Type == "renewal.card_declined");
        // Now it is in pending like any wallet invoice: funds settle it.
        AddFunds(account, 25m, "after", T0.AddDays(32));
        Assert.Equal(InvoiceStatus.Paid, account.Invoices.Single(i => i.Id == request.InvoiceId).Status);
        Assert.Equal((5m, 0m), (account.Balance, account.PendingBalance));
    }

    [Fact]
    public void Without_a_card_or_with_the_wallet_preference_a_renewal_debits_the_wallet()
    {
        var noCard = new Account("acct", AccountSettings.Default);
        Run(noCard, noCard.Decide(new UpdatePreferences(Preferences.Default with { RenewalPayment = RenewalPayment.Card }, T0)));
        Run(noCard, noCard.Decide(new Subscribe(Pro, null, new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero))));
        var events = noCard.Decide(new AdvanceClock(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero))).Events;
        Assert.Empty(events.OfType<PaymentRequested>());
        Assert.Equal(30m, events.OfType<InvoiceIssued>().Single().ChargeAtIssue);

        var wallet = WithCard();
        Run(wallet, wallet.Decide(new Subscribe(Pro, null, new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero))));
        Assert.Empty(wallet.Decide(new AdvanceClock(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero))).Events.OfType<PaymentRequested>());
    }

    [Fact]
    public void Months_of_card_renewals_caught_up_at_once_take_one_purchase_id_each()
    {
        var account = RenewingByCard(wallet: 100m);
        var events = Run(account, account.Decide(new AdvanceClock(new DateTimeOffset(2026, 6, 15, 0, 0, 0, TimeSpan.Zero))));
        var requests = events.OfType<PaymentRequested>().ToList();
        Assert.Equal(3, requests.Count); // April, May, June
        Assert.Equal(3, requests.Select(r => r.PurchaseId).Distinct().Count());
        Assert.Equal(events.OfType<InvoiceIssued>().Select(i => i.InvoiceId), requests.Select(r => r.InvoiceId));
    }
}
