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

    public IEnumerable<Subscription> ActiveSubscriptions => _subscriptions.Where(s => s.Status == SubscriptionStatus.Active);

    public Decision<Outcome> Decide(Subscribe command)
    {
        var plan = command.Plan;
        if (plan.Currency != Currency)
            return Refuse("currency_mismatch", $"Plan '{plan.Id}' is priced in {plan.Currency}; this account pays in {Currency}.");
        if (command.Team is { Length: 0 or > 128 })
            return Refuse("invalid_team", "A team is 1 to 128 characters.");
        if (ActiveSubscriptions.Count() >= MaxActiveSubscriptions)
            return Refuse("too_many_subscriptions", $"An account holds at most {MaxActiveSubscriptions} active plans.");

        var id = $"sub_{_subscriptionSeq + 1}";
        var subscribed = new Subscribed(id, plan, command.Team, command.At, plan.PeriodEnd(command.At), command.At);
        if (plan.Fee <= 0) return new([subscribed], new Outcome(id));

        var fee = new FeeCharged(id, $"{plan.Name} plan fee", plan.Fee, command.At);
        var (balanceAfter, _) = Wallet.AfterCharge(Balance, PendingBalance, plan.Fee);
        return new(MaybeRecharge(balanceAfter, command.At) is { } recharge ? [subscribed, fee, recharge] : [subscribed, fee], new Outcome(id));
    }

    public Decision<Outcome> Decide(CancelSubscription command)
    {
        var subscription = _subscriptions.Find(s => s.Id == command.SubscriptionId);
        if (subscription is null)
            return Refuse("not_found", $"No subscription '{command.SubscriptionId}'.");
        if (subscription.Status != SubscriptionStatus.Active)
            return Refuse("not_active", $"Subscription '{command.SubscriptionId}' is already {subscription.Status.ToString().ToLowerInvariant()}.");
        return new([new SubscriptionCanceled(subscription.Id, command.At)], new Outcome(subscription.Id));
    }

    /// <summary>
    /// The order in which plans cover a usage event: the event's team's own plans first, then the
    /// account-wide ones; within each, oldest subscription first. A team-scoped plan never covers
    /// another team's usage or usage without a team.
    /// </summary>
    public IEnumerable<Subscription> DrawOrder(string? team)
    {
        var active = ActiveSubscriptions.OrderBy(s => s.StartedAt).ThenBy(s => s.Id, StringComparer.Ordinal).ToList();
        var own = team is null ? [] : active.Where(s => s.Team == team);
        return own.Concat(active.Where(s => s.Team is null));
    }

    /// <summary>
    /// Splits the batch's usage into quota draws (free) and overage, in event order. Overage is rated
    /// on the first plan in draw order that prices the meter, cumulatively over its period:
    /// <c>Round(P(after)) - Round(P(before))</c>, so the total never depends on batching. Usage that
    /// no plan covers or prices is recorded but not charged.
    /// </summary>
    private (QuotaDraw[] Draws, OverageCharge[] Charges) Rate(IReadOnlyList<UsageRecord> records)
    {
        var drawn = new Dictionary<(string Sub, string Meter), decimal>();
        var overage = new Dictionary<(Subscription Sub, string Meter), decimal>();
        foreach (var record in records)
        {
            var left = record.Quantity;
            Subscription? pricer = null;
            foreach (var sub in DrawOrder(record.Team))
            {
                pricer ??= sub.Plan.Overage.ContainsKey(record.Meter) ? sub : null;
                if (left == 0) continue;
                var free = sub.Remaining(record.Meter) - drawn.GetValueOrDefault((sub.Id, record.Meter));
                var take = Math.Min(free, left);
                if (take <= 0) continue;
                drawn[(sub.Id, record.Meter)] = drawn.GetValueOrDefault((sub.Id, record.Meter)) + take;
                left -= take;
            }
            if (left > 0 && pricer is not null)
                overage[(pricer, record.Meter)] = overage.GetValueOrDefault((pricer, record.Meter)) + left;
        }

        var draws = drawn.Select(d => new QuotaDraw(d.Key.Sub, d.Key.Meter, d.Value)).ToArray();
        var charges = overage.Select(o =>
        {
            var (sub, meter) = o.Key;
            var before = sub.Overage.GetValueOrDefault(meter);
            return new OverageCharge(sub.Id, meter, o.Value, Rating.Charge(sub.Plan.Overage[meter], before, before + o.Value));
        }).ToArray();
        return (draws, charges);
    }

    private void ApplyRating(IReadOnlyList<QuotaDraw> draws, IReadOnlyList<OverageCharge> charges)
    {
        foreach (var draw in draws)
        {
            var sub = Subscription(draw.SubscriptionId);
            sub.Used[draw.Meter] = sub.Used.GetValueOrDefault(draw.Meter) + draw.Quantity;
        }
        foreach (var charge in charges)
        {
            var sub = Subscription(charge.SubscriptionId);
            sub.Overage[charge.Meter] = sub.Overage.GetValueOrDefault(charge.Meter) + charge.Quantity;
            sub.Charged[charge.Meter] = sub.Charged.GetValueOrDefault(charge.Meter) + charge.Amount;
            Charge(charge.Amount);
        }
    }

    private Subscription Subscription(string id) =>
        _subscriptions.Find(s => s.Id == id) ?? throw new InvalidOperationException($"Event refers to unknown subscription '{id}'.");

    private void ApplySubscribed(Subscribed e)
    {
        _subscriptionSeq++;
        _subscriptions.Add(new Subscription(e.SubscriptionId, e.Plan, e.Team, e.At, e.PeriodStart, e.PeriodEnd));
    }

    private void ApplyFee(FeeCharged e)
    {
        Charge(e.Amount);
        AddLedger(e.At, "fee", e.Description, -e.Amount);
    }

    private void ApplyCanceled(SubscriptionCanceled e)
    {
        var sub = Subscription(e.SubscriptionId);
        sub.Status = SubscriptionStatus.Canceled;
        sub.EndedAt = e.At;
    }

    private static Decision<Outcome> Refuse(string code, string message) => new([], Outcome.Refused(code, message));
}
