using System.Globalization;
using Metering.Domain.Pricing;

namespace Metering.Domain.Accounts;

public sealed partial class Account
{
    private readonly List<Invoice> _invoices = [];
    private readonly List<Notification> _notifications = [];
    private readonly HashSet<string> _notificationCauses = new(StringComparer.Ordinal);
    /// <summary>balance.low fires once per dip: re-armed when the balance is back at or over the threshold.</summary>
    private bool _lowBalanceArmed = true;

    public Preferences Preferences { get; private set; } = Preferences.Default;
    public IReadOnlyList<Invoice> Invoices => _invoices;
    public IReadOnlyList<Notification> Notifications => _notifications;

    /// <summary>Notifications not sent yet, oldest first: after a crash these are sent again, each with its id.</summary>
    public IEnumerable<Notification> UndeliveredNotifications => _notifications.Where(n => !n.Delivered);

    public Decision<Outcome> Decide(UpdatePreferences command)
    {
        var errors = command.Preferences.Validate();
        return errors.Count > 0
            ? new([], new Outcome(null, new Refusal("invalid_preferences", string.Join(" ", errors.Select(e => $"{e.Code}: {e.Message}")))))
            : new([new PreferencesUpdated(command.Preferences, command.At)], new Outcome());
    }

    /// <summary>
    /// Voids an open invoice: what is still due leaves the pending balance (it is no longer owed);
    /// what was already paid, from the wallet or by card, stays paid (refunds are not automatic).
    /// </summary>
    public Decision<Outcome> Decide(VoidInvoice command) =>
        NotOpen(command.InvoiceId, "voided") is { } refused ? refused : new([new InvoiceVoided(command.InvoiceId, command.At)], new Outcome(command.InvoiceId));

    /// <summary>
    /// Marks an open invoice uncollectible: reminders stop, but the amount due stays owed in the
    /// pending balance (nothing is written off), and funds added later still settle it.
    /// </summary>
    public Decision<Outcome> Decide(MarkInvoiceUncollectible command) =>
        NotOpen(command.InvoiceId, "marked uncollectible") is { } refused
            ? refused
            : new([new InvoiceMarkedUncollectible(command.InvoiceId, command.At)], new Outcome(command.InvoiceId));

    private Decision<Outcome>? NotOpen(string invoiceId, string action)
    {
        if (_invoices.Find(i => i.Id == invoiceId) is not { } invoice)
            return Refuse("not_found", $"No invoice '{invoiceId}'.");
        if (invoice.Status != InvoiceStatus.Open)
            return Refuse("invoice_not_open", $"Invoice {invoice.Number} is {invoice.Status.ToString().ToLowerInvariant()}; only open invoices can be {action}.");
        if (AwaitingCard(invoiceId))
            return Refuse("payment_in_progress", $"A card charge for invoice {invoice.Number} has not answered yet; try again in a moment.");
        return null;
    }

    /// <summary>A renewal card charge for the invoice is in flight: its part is due on the invoice but not in the pending balance.</summary>
    private bool AwaitingCard(string invoiceId) => PendingPurchases.Any(p => p.InvoiceId == invoiceId);

    private DateTimeOffset? _nextDue;
    private bool _nextDueStale = true;

    /// <summary>
    /// The next moment something is due: a renewal, or a reminder not sent yet. Asked before every
    /// message, so it is worked out again only after the state changed.
    /// </summary>
    public DateTimeOffset? NextDueAt
    {
        get
        {
            if (!_nextDueStale) return _nextDue;
            var moments = ActiveSubscriptions.Select(s => s.PeriodEnd)
                .Concat(DueRemindersAll().Where(r => !_notificationCauses.Contains(r.Cause)).Select(r => r.At))
                .ToList();
            _nextDue = moments.Count > 0 ? moments.Min() : null;
            _nextDueStale = false;
            return _nextDue;
        }
    }

    /// <param name="byCard">Fee and tax go to a card charge (<see cref="InvoiceIssued.ChargeToCard"/>) instead of the wallet.</param>
    private InvoiceIssued NewInvoice(int offset, string? subscriptionId, DateTimeOffset? start, DateTimeOffset? end, IReadOnlyList<InvoiceLine> lines, decimal fee, DateTimeOffset at,
        bool byCard = false)
    {
        var n = _invoices.Count + 1 + offset;
        var rate = Preferences.EffectiveTaxRate;
        var tax = Rating.Round(lines.Sum(l => l.Amount) * rate);
        var charge = fee + tax;
        return new InvoiceIssued($"inv_{n}", InvoiceNumber(n), subscriptionId, start, end, lines, rate, byCard ? 0 : charge, Preferences.BillingInfo, at,
            at.AddDays(Preferences.InvoiceTermDays), byCard ? charge : 0);
    }

    private string InvoiceNumber(int n) => $"{Id}-{n:000000}";

    private void ApplyInvoice(InvoiceIssued e)
    {
        var pendingBefore = PendingBalance;
        (Balance, PendingBalance) = Wallet.AfterCharge(Balance, PendingBalance, e.ChargeAtIssue);
        var due = PendingBalance - pendingBefore + e.ChargeToCard;
        var subtotal = e.Lines.Sum(l => l.Amount);
        var tax = Rating.Round(subtotal * e.TaxRate);
        var total = subtotal + tax;
        var invoice = new Invoice(e.InvoiceId, e.Number, InvoiceKind.Subscription, e.SubscriptionId, e.PeriodStart, e.PeriodEnd, e.Lines,
            subtotal, e.TaxRate, tax, total, e.ChargeAtIssue, total - due, due, due > 0 ? InvoiceStatus.Open : InvoiceStatus.Paid,
            Currency, e.BillTo, e.At, e.DueAt);
        _invoices.Add(invoice);
        if (e.ChargeAtIssue != 0) AddLedger(e.At, "invoice", $"Invoice {e.Number}", -e.ChargeAtIssue);
        if (e.SubscriptionId is not null && _subscriptions.Find(s => s.Id == e.SubscriptionId)?.Periods is { Count: > 0 } periods
            && periods[^1].Start == e.PeriodStart)
            periods[^1] = periods[^1] with { InvoiceId = e.InvoiceId, Amount = total };
        Notify("invoice.created", $"invoice:{e.InvoiceId}", $"Invoice {e.Number} for {total} {Currency} was issued.", e.At,
            ("invoiceId", e.InvoiceId), ("total", total.ToString(CultureInfo.InvariantCulture)));
        AfterWalletChange(pendingBefore, e.At);
    }

    private void ApplyVoided(InvoiceVoided e)
    {
        var i = _invoices.FindIndex(x => x.Id == e.InvoiceId);
        var invoice = _invoices[i];
        // Not a payment: other invoices are not settled by it.
        PendingBalance -= invoice.AmountDue;
        _invoices[i] = invoice with { AmountDue = 0, Status = InvoiceStatus.Void };
        if (invoice.AmountDue != 0) AddLedger(e.At, "void", $"Invoice {invoice.Number} voided", invoice.AmountDue);
        Notify("invoice.voided", $"void:{invoice.Id}", $"Invoice {invoice.Number} was voided; {invoice.AmountDue} {Currency} is no longer due.", e.At,
            ("invoiceId", invoice.Id), ("amountDue", invoice.AmountDue.ToString(CultureInfo.InvariantCulture)));
    }

    private void ApplyUncollectible(InvoiceMarkedUncollectible e)
    {
        var i = _invoices.FindIndex(x => x.Id == e.InvoiceId);
        _invoices[i] = _invoices[i] with { Status = InvoiceStatus.Uncollectible };
    }

    /// <summary>
    /// A renewal card charge answered: <paramref name="amount"/> leaves what the invoice has due,
    /// <paramref name="owed"/> of it comes back as due (the part a declined charge's wallet fallback could not cover).
    /// </summary>
    private void SettleCardCharge(string invoiceId, decimal amount, decimal owed)
    {
        var i = _invoices.FindIndex(x => x.Id == invoiceId);
        var invoice = _invoices[i];
        var due = invoice.AmountDue - amount + owed;
        _invoices[i] = invoice with { AmountPaid = invoice.AmountPaid + amount - owed, AmountDue = due, Status = due == 0 ? InvoiceStatus.Paid : invoice.Status };
    }

    /// <summary>Added funds and recharges get a paid receipt, numbered with the invoices.</summary>
    private void AddReceipt(Purchase purchase, DateTimeOffset at)
    {
        var n = _invoices.Count + 1;
        _invoices.Add(new Invoice($"inv_{n}", InvoiceNumber(n), InvoiceKind.Receipt, null, null, null,
            [new InvoiceLine(purchase.Description, 1, purchase.Amount)], purchase.Amount, 0, 0, purchase.Amount, 0,
            purchase.Amount, 0, InvoiceStatus.Paid, purchase.Currency, Preferences.BillingInfo, at, at));
    }

    /// <summary>
    /// Whatever left pending pays open and uncollectible invoices, oldest first (not the card part of
    /// one whose charge is in flight: that part is not in pending); a low balance is told once per dip.
    /// </summary>
    private void AfterWalletChange(decimal pendingBefore, DateTimeOffset at)
    {
        var settled = pendingBefore - PendingBalance;
        for (var i = 0; i < _invoices.Count && settled > 0; i++)
        {
            if (_invoices[i] is not { Status: InvoiceStatus.Open or InvoiceStatus.Uncollectible } open || AwaitingCard(open.Id)) continue;
            var pay = Math.Min(settled, open.AmountDue);
            settled -= pay;
            var due = open.AmountDue - pay;
            _invoices[i] = open with { AmountDue = due, AmountPaid = open.AmountPaid + pay, Status = due == 0 ? InvoiceStatus.Paid : InvoiceStatus.Open };
        }

        if (Preferences.Notifications.LowBalanceThreshold is not { } threshold) return;
        if (Balance >= threshold)
        {
            _lowBalanceArmed = true;
        }
        else if (_lowBalanceArmed)
        {
            _lowBalanceArmed = false;
            Notify("balance.low", $"balance.low:{at:O}", $"The balance is {Balance} {Currency}, under {threshold}.", at, ("balance", Balance.ToString(CultureInfo.InvariantCulture)));
        }
    }

    private void NotifyQuotaThresholds(Subscription sub, string meter, decimal before, decimal after, DateTimeOffset at)
    {
        var included = sub.Included(meter);
        if (included <= 0) return;
        foreach (var percent in new[] { 80, 100 })
        {
            var mark = included * percent / 100;
            if (before < mark && after >= mark)
                Notify("quota.threshold", $"quota:{sub.Id}:{sub.PeriodStart:O}:{meter}:{percent}",
                    $"{sub.Plan.Name}: {percent} % of the {meter} quota ({included}) is used.", at,
                    ("subscriptionId", sub.Id), ("meter", meter), ("percent", percent.ToString(CultureInfo.InvariantCulture)));
        }
    }

    /// <summary>Reminders whose moment is at or before <paramref name="at"/>.</summary>
    private IEnumerable<(string Type, string Cause, string Message, DateTimeOffset At, (string, string)[] Data)> DueReminders(DateTimeOffset at) =>
        DueRemindersAll().Where(r => r.At <= at);

    private IEnumerable<(string Type, string Cause, string Message, DateTimeOffset At, (string, string)[] Data)> DueRemindersAll()
    {
        var settings = Preferences.Notifications;
        foreach (var sub in ActiveSubscriptions.Where(s => !s.CancelAtPeriodEnd))
            yield return ("renewal.upcoming", $"renewal:{sub.Id}:{sub.PeriodEnd:O}", $"{sub.Plan.Name} renews on {sub.PeriodEnd:yyyy-MM-dd} for {sub.Plan.Fee} {Currency}.",
                sub.PeriodEnd.AddDays(-settings.RenewalReminderDays), [("subscriptionId", sub.Id), ("renewsOn", sub.PeriodEnd.ToString("O"))]);
        foreach (var invoice in _invoices.Where(i => i.Status == InvoiceStatus.Open))
        {
            yield return ("invoice.due_soon", $"due_soon:{invoice.Id}", $"Invoice {invoice.Number} ({invoice.AmountDue} {Currency} due) is due on {invoice.DueAt:yyyy-MM-dd}.",
                invoice.DueAt.AddDays(-settings.InvoiceDueReminderDays), [("invoiceId", invoice.Id)]);
            yield return ("invoice.overdue", $"overdue:{invoice.Id}", $"Invoice {invoice.Number} is overdue: {invoice.AmountDue} {Currency} unpaid.",
                invoice.DueAt, [("invoiceId", invoice.Id)]);
        }
    }

    private void ApplyReminders(DateTimeOffset at)
    {
        foreach (var r in DueReminders(at).ToList())
            Notify(r.Type, r.Cause, r.Message, at, r.Data);
    }

    private void Notify(string type, string cause, string message, DateTimeOffset at, params (string Key, string Value)[] data)
    {
        if (_notificationCauses.Contains(cause)) return;
        Remember(new Notification($"ntf_{_notifications.Count + 1}", type, cause, message, at, data.ToDictionary(d => d.Key, d => d.Value)));
    }

    private void ApplyDelivered(NotificationDelivered e)
    {
        var i = _notifications.FindIndex(n => n.Id == e.NotificationId);
        if (i >= 0) _notifications[i] = _notifications[i] with { Delivered = true, DeliveryFailure = e.Failure };
    }

    private void Remember(Notification notification)
    {
        _notifications.Add(notification);
        _notificationCauses.Add(notification.Cause);
    }
}
