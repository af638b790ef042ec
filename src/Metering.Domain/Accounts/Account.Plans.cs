using Metering.Domain.Plans;
using Metering.Domain.Pricing;
using Metering.Domain.Usage;

namespace Metering.Domain.Accounts;

public sealed partial class Account
{
    public const int MaxActiveSubscriptions = 20;

    private readonly List<Subscription> _subscriptions = [];
    private int _subscriptionSeq;

    /// <summary>Every subscription ever, oldest first.</summary>
    public IReadOnlyList<Subscription> Subscriptions => _subscriptions;

    public IEnumerable<Subscription> ActiveSubscriptions => _subscriptions.Where(IsActive);

    private static bool IsActive(Subscription subscription) => subscription.Status == SubscriptionStatus.Active;

    /// <summary>
    /// Subscribes now. Monthly plans follow the account's billing cycle (anchored at midnight UTC of
    /// its first usage or subscription): one taken mid-cycle runs to the cycle's end and its fee is
    /// prorated by whole days left, <c>fee × days left / days in cycle</c>, rounded half-to-even to
    /// cents. Yearly plans run a year from today at the full fee.
    /// </summary>
    public Decision<Outcome> Decide(Subscribe command)
    {
        var plan = command.Plan;
        if (plan.Currency != Currency)
            return Refuse("currency_mismatch", $"Plan '{plan.Id}' is priced in {plan.Currency}; this account pays in {Currency}.");
        if (command.Team is { Length: 0 or > 128 })
            return Refuse("invalid_team", "A team is 1 to 128 characters.");
        if (ActiveSubscriptions.Count() >= MaxActiveSubscriptions)
            return Refuse("too_many_subscriptions", $"An account holds at most {MaxActiveSubscriptions} active plans.");

        var at = command.At;
        var id = $"sub_{_subscriptionSeq + 1}";
        var (periodEnd, fee) = FirstPeriod(plan, at);
        var subscribed = new Subscribed(id, plan, command.Team, at, periodEnd, at);
        if (fee <= 0) return new([subscribed], new Outcome(id));

        var invoice = NewInvoice(0, id, at, periodEnd, [new InvoiceLine(FeeDescription(plan, at, periodEnd), 1, fee)], fee, at);
        var (balanceAfter, _) = Wallet.AfterCharge(Balance, PendingBalance, invoice.ChargeAtIssue);
        return new(MaybeRecharge(balanceAfter, at) is { } recharge ? [subscribed, invoice, recharge] : [subscribed, invoice], new Outcome(id));
    }

    private (DateTimeOffset PeriodEnd, decimal Fee) FirstPeriod(Plan plan, DateTimeOffset at)
    {
        if (plan.Interval == PlanInterval.Year) return (plan.PeriodEnd(at), plan.Fee);
        var cycle = BillingCycle.Containing(CycleAnchor ?? MidnightOf(at), at);
        var daysInCycle = (cycle.End.UtcDateTime.Date - cycle.Start.UtcDateTime.Date).Days;
        var daysLeft = (cycle.End.UtcDateTime.Date - at.UtcDateTime.Date).Days;
        return (cycle.End, daysLeft >= daysInCycle ? plan.Fee : Rating.Round(plan.Fee * daysLeft / daysInCycle));
    }

    /// <summary>When a period that ended at <paramref name="end"/> renews, the next one ends here.</summary>
    private DateTimeOffset NextPeriodEnd(Subscription sub, DateTimeOffset end) =>
        sub.Plan.Interval == PlanInterval.Year
            ? sub.Plan.PeriodEnd(end)
            : BillingCycle.Containing(CycleAnchor ?? MidnightOf(sub.StartedAt), end).End;

    private static string FeeDescription(Plan plan, DateTimeOffset start, DateTimeOffset end) =>
        $"{plan.Name} plan, {start:yyyy-MM-dd} to {end:yyyy-MM-dd}";

    public Decision<Outcome> Decide(CancelSubscription command)
    {
        var subscription = _subscriptions.Find(s => s.Id == command.SubscriptionId);
        if (subscription is null)
            return Refuse("not_found", $"No subscription '{command.SubscriptionId}'.");
        if (subscription.Status != SubscriptionStatus.Active || (command.AtPeriodEnd && subscription.CancelAtPeriodEnd))
            return Refuse("not_active", $"Subscription '{command.SubscriptionId}' is already {(subscription.CancelAtPeriodEnd ? "ending" : subscription.Status.ToString().ToLowerInvariant())}.");
        return new([new SubscriptionCanceled(subscription.Id, command.AtPeriodEnd, command.At)], new Outcome(subscription.Id));
    }

    /// <summary>
    /// Renews every subscription whose period is over, as many periods as have passed (an account
    /// asleep for months catches up), each with its invoice: the closed period's overage lines and
    /// the new period's fee, plus tax. Fee and tax are debited from the wallet, or, when the
    /// preferences say <see cref="RenewalPayment.Card"/> and there is a default card, requested from
    /// that card (persisted before the gateway is called, as recharges are). A subscription canceled at period end ends instead, with a
    /// last invoice for its overage if there was any. Then sends the reminders now due.
    /// </summary>
    public Decision<Outcome> Decide(AdvanceClock command)
    {
        var at = command.At;
        var events = new List<IAccountEvent>();
        decimal charges = 0;
        var card = Preferences.RenewalPayment == RenewalPayment.Card ? _paymentMethods.Find(m => m.Id == DefaultPaymentMethodId) : null;
        foreach (var sub in ActiveSubscriptions.OrderBy(s => s.PeriodEnd).ThenBy(s => s.Id, StringComparer.Ordinal))
        {
            var end = sub.PeriodEnd;
            var overageLines = sub.Charged.Where(c => c.Value != 0).OrderBy(c => c.Key, StringComparer.Ordinal)
                .Select(c => new InvoiceLine($"{sub.Plan.Name}: {c.Key} overage, {sub.PeriodStart:yyyy-MM-dd} to {end:yyyy-MM-dd}", sub.Overage.GetValueOrDefault(c.Key), c.Value))
                .ToList();
            while (end <= at)
            {
                if (sub.CancelAtPeriodEnd)
                {
                    if (overageLines.Count > 0)
                        events.Add(NewInvoice(events.OfType<InvoiceIssued>().Count(), sub.Id, sub.PeriodStart, end, overageLines, 0, end));
                    events.Add(new SubscriptionEnded(sub.Id, end));
                    break;
                }
                var next = NextPeriodEnd(sub, end);
                var lines = overageLines.Append(new InvoiceLine(FeeDescription(sub.Plan, end, next), 1, sub.Plan.Fee)).Where(l => l.Amount != 0).ToList();
                events.Add(new SubscriptionRenewed(sub.Id, end, next, end));
                if (lines.Count > 0)
                {
                    var invoice = NewInvoice(events.OfType<InvoiceIssued>().Count(), sub.Id, end, next, lines, sub.Plan.Fee, end, byCard: card is not null);
                    events.Add(invoice);
                    charges += invoice.ChargeAtIssue;
                    if (invoice.ChargeToCard > 0)
                        events.Add(Request(PurchaseKind.Renewal, invoice.ChargeToCard, card!, clientKey: null, attempt: 1, end,
                            events.OfType<PaymentRequested>().Count(), invoice.InvoiceId));
                }
                overageLines = [];
                end = next;
            }
        }
        if (DueReminders(at).Any(r => !_notificationCauses.Contains(r.Cause)))
            events.Add(new ClockAdvanced(at));
        var (balanceAfter, _) = Wallet.AfterCharge(Balance, PendingBalance, charges);
        if (events.Count > 0 && MaybeRecharge(balanceAfter, at, events.OfType<PaymentRequested>().Count()) is { } recharge) events.Add(recharge);
        return new(events, new Outcome());
    }

    /// <summary>
    /// The order in which plans cover a usage event: the event's team's own plans first, then the
    /// account-wide ones; within each, oldest subscription first. A team-scoped plan never covers
    /// another team's usage or usage without a team.
    /// </summary>
    public IReadOnlyList<Subscription> DrawOrder(string? team) => new DrawOrders(this).For(team);

    /// <summary>
    /// The draw order of each team, worked out once per usage batch rather than once per event (sorting
    /// the plans for every event was a measured share of the engine's allocations).
    /// </summary>
    private sealed class DrawOrders(Account account)
    {
        private readonly List<Subscription> _active = [.. account.ActiveSubscriptions.OrderBy(s => s.StartedAt).ThenBy(s => s.Id, StringComparer.Ordinal)];
        private readonly Dictionary<string, Subscription[]> _byTeam = new(StringComparer.Ordinal);
        private Subscription[]? _accountWide;

        public Subscription[] For(string? team)
        {
            _accountWide ??= [.. _active.Where(s => s.Team is null)];
            if (team is null) return _accountWide;
            if (!_byTeam.TryGetValue(team, out var order))
                _byTeam[team] = order = [.. _active.Where(s => s.Team == team), .. _accountWide];
            return order;
        }
    }

    /// <summary>
    /// Splits the batch's usage into quota draws (free) and overage, in event order. Overage is rated
    /// on the first plan in draw order that prices the meter, cumulatively over its period:
    /// <c>Round(P(after)) - Round(P(before))</c>, so the total never depends on batching. Usage that
    /// no plan covers or prices is recorded but not charged. Draws and charges are kept per team and
    /// user; a plan's overage is rated across them in order of first appearance, so their charges
    /// telescope to exactly the batch's charge.
    /// </summary>
    private (QuotaDraw[] Draws, OverageCharge[] Charges) Rate(IReadOnlyList<UsageRecord> records)
    {
        // No active plan draws or prices anything: the usage is recorded, not charged, and the tables
        // below were made and dropped for every batch of a wallet-only account.
        if (!_subscriptions.Exists(IsActive)) return ([], []);
        var drawn = new Dictionary<(Subscription Sub, string Meter, string? Team, string? User), decimal>();
        var drawnBySub = new Dictionary<(string Sub, string Meter), decimal>();
        // Insertion-ordered (nothing is removed), so rating runs in order of first appearance.
        var overage = new Dictionary<(Subscription Sub, string Meter, string? Team, string? User), decimal>();
        var orders = new DrawOrders(this);
        foreach (var record in records)
        {
            var left = record.Quantity;
            Subscription? pricer = null;
            foreach (var sub in orders.For(record.Team))
            {
                pricer ??= sub.Plan.Overage.ContainsKey(record.Meter) ? sub : null;
                if (left == 0) continue;
                var free = sub.Remaining(record.Meter) - drawnBySub.GetValueOrDefault((sub.Id, record.Meter));
                var take = Math.Min(free, left);
                if (take <= 0) continue;
                drawnBySub[(sub.Id, record.Meter)] = drawnBySub.GetValueOrDefault((sub.Id, record.Meter)) + take;
                var key = (sub, record.Meter, record.Team, record.User);
                drawn[key] = drawn.GetValueOrDefault(key) + take;
                left -= take;
            }
            if (left > 0 && pricer is not null)
            {
                var key = (pricer, record.Meter, record.Team, record.User);
                overage[key] = overage.GetValueOrDefault(key) + left;
            }
        }

        var draws = drawn.Select(d => new QuotaDraw(d.Key.Sub.Id, d.Key.Meter, d.Value, d.Key.Sub.Plan.Id, d.Key.Team, d.Key.User)).ToArray();
        var rated = new Dictionary<(string Sub, string Meter), decimal>();
        var charges = overage.Select(o =>
        {
            var (sub, meter, team, user) = o.Key;
            var before = rated.TryGetValue((sub.Id, meter), out var r) ? r : sub.Overage.GetValueOrDefault(meter);
            rated[(sub.Id, meter)] = before + o.Value;
            return new OverageCharge(sub.Id, meter, o.Value, Rating.Charge(sub.Plan.Overage[meter], before, before + o.Value), sub.Plan.Id, team, user);
        }).ToArray();
        return (draws, charges);
    }

    private void ApplyRating(IReadOnlyList<QuotaDraw> draws, IReadOnlyList<OverageCharge> charges, DateTimeOffset at)
    {
        foreach (var draw in draws)
        {
            var sub = Subscription(draw.SubscriptionId);
            var before = sub.Used.GetValueOrDefault(draw.Meter);
            sub.Used[draw.Meter] = before + draw.Quantity;
            NotifyQuotaThresholds(sub, draw.Meter, before, sub.Used[draw.Meter], at);
        }
        foreach (var charge in charges)
        {
            var sub = Subscription(charge.SubscriptionId);
            sub.Overage[charge.Meter] = sub.Overage.GetValueOrDefault(charge.Meter) + charge.Quantity;
            sub.Charged[charge.Meter] = sub.Charged.GetValueOrDefault(charge.Meter) + charge.Amount;
            Charge(charge.Amount, at);
        }
    }

    private Subscription Subscription(string id) =>
        _subscriptions.Find(s => s.Id == id) ?? throw new InvalidOperationException($"Event refers to unknown subscription '{id}'.");

    private void ApplySubscribed(Subscribed e)
    {
        _subscriptionSeq++;
        CycleAnchor ??= MidnightOf(e.At);
        var sub = new Subscription(e.SubscriptionId, e.Plan, e.Team, e.At, e.PeriodStart, e.PeriodEnd);
        sub.Periods.Add(new SubscriptionPeriod(e.PeriodStart, e.PeriodEnd, null, 0));
        _subscriptions.Add(sub);
    }

    private void ApplyCanceled(SubscriptionCanceled e)
    {
        var sub = Subscription(e.SubscriptionId);
        if (e.AtPeriodEnd)
        {
            sub.CancelAtPeriodEnd = true;
            return;
        }
        sub.Status = SubscriptionStatus.Canceled;
        sub.EndedAt = e.At;
    }

    private void ApplyRenewed(SubscriptionRenewed e)
    {
        var sub = Subscription(e.SubscriptionId);
        sub.PeriodStart = e.PeriodStart;
        sub.PeriodEnd = e.PeriodEnd;
        sub.Used.Clear();
        sub.Overage.Clear();
        sub.Charged.Clear();
        sub.Periods.Add(new SubscriptionPeriod(e.PeriodStart, e.PeriodEnd, null, 0));
    }

    private void ApplyEnded(SubscriptionEnded e)
    {
        var sub = Subscription(e.SubscriptionId);
        sub.Status = SubscriptionStatus.Ended;
        sub.EndedAt = e.At;
    }

    private static DateTimeOffset MidnightOf(DateTimeOffset at) => new(at.UtcDateTime.Date, TimeSpan.Zero);

    private static Decision<Outcome> Refuse(string code, string message) => new([], Outcome.Refused(code, message));
}
