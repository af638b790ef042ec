using Metering.Domain.Accounts;
using Metering.Domain.Plans;
using Metering.Domain.Pricing;

namespace Metering.Domain.Insights;

/// <summary>A closed billing period of the account's cycle and the usage the engine counted in it, per meter.</summary>
public sealed record FitPeriod(DateTimeOffset Start, DateTimeOffset End, IReadOnlyDictionary<string, decimal> Usage);

/// <param name="Costs">Per compared period, oldest first: fees plus overage, before tax.</param>
/// <param name="CoversUsage">Every meter used in the periods is included or priced by one of the plans. An option that
/// does not cover the usage looks cheap only because the engine charges nothing for usage no plan prices; it is
/// listed but never named cheapest.</param>
public sealed record FitOption(IReadOnlyList<string> PlanIds, string Label, IReadOnlyList<decimal> Costs, decimal Total, bool CoversUsage);

public sealed record FitCurrent(IReadOnlyList<string> PlanIds, decimal Total);

/// <param name="Cheapest">Null when there is no closed period to compare or no option covers the usage.</param>
/// <param name="Saving">What the cheapest would have saved over the current plans in the periods; never negative.</param>
public sealed record PlanFitResult(
    string Currency, IReadOnlyList<FitPeriod> Periods, IReadOnlyList<FitOption> Options, FitCurrent Current, FitOption? Cheapest, decimal Saving);

/// <summary>
/// What other plans would have cost for the usage an account actually had. Each option is run
/// through the engine itself: a fresh account holds the option's plans from the account's cycle
/// anchor and is fed the account's journaled usage batches at their own times, renewing as the
/// real one would, so quotas, draw order, team scoping and overage are rated by
/// <see cref="Account.Decide(RecordUsage)"/> and <see cref="Rating"/>, not by a second copy of them.
/// </summary>
/// <remarks>
/// A period's cost is each plan's fee for a month plus the overage the engine charged in that
/// period (usage is counted in the period its batch was recorded in, as billing counted it). A
/// yearly plan counts a twelfth of its fee per month (rounded half-to-even to cents) and draws its
/// year's quota from the anchor on, as if bought then. Costs are before tax.
/// </remarks>
public static class PlanFit
{
    public const int MinPeriods = 1;
    public const int MaxPeriods = 24;
    public const int DefaultPeriods = 3;

    private sealed record Holding(Plan Plan, string? Team);

    /// <param name="account">The account as it stands (from <see cref="AccountReplay"/>): its cycle anchor and current plans.</param>
    /// <param name="journal">The account's whole journal, in order.</param>
    /// <param name="catalog">Plans to try alone; those in another currency are left out.</param>
    public static PlanFitResult Compare(Account account, IReadOnlyList<IAccountEvent> journal, IEnumerable<Plan> catalog, int periods, DateTimeOffset now)
    {
        if (periods is < MinPeriods or > MaxPeriods)
            throw new ArgumentOutOfRangeException(nameof(periods), periods, $"Periods are {MinPeriods} to {MaxPeriods}.");
        var closed = account.CycleAnchor is { } anchor ? ClosedPeriods(anchor, now, periods) : [];
        var batches = journal.OfType<UsageRecorded>().Where(u => u.Accepted.Count > 0).ToArray();
        var meters = batches.Where(b => closed.Any(p => In(p, b.At))).SelectMany(b => b.Accepted).Select(r => r.Meter)
            .Distinct().Order(StringComparer.Ordinal).ToArray();
        var fitPeriods = closed.Select(p => new FitPeriod(p.Start, p.End, meters.ToDictionary(m => m,
            m => batches.Where(b => In(p, b.At)).SelectMany(b => b.Accepted).Where(r => r.Meter == m).Sum(r => r.Quantity)))).ToArray();

        var held = account.ActiveSubscriptions.Select(s => new Holding(s.Plan, s.Team)).ToArray();
        var current = Evaluate(account, held, batches, closed, meters);
        var plans = catalog.Where(p => p.Currency == account.Currency).ToArray();
        var options = plans.Select(p => Evaluate(account, [new Holding(p, null)], batches, closed, meters)).ToList();
        // The current plans are an option of their own unless they are one catalog plan exactly as listed.
        if (held.Length > 0 && !(held is [{ Team: null } only] && plans.Contains(only.Plan)))
            options.Add(current);

        var isCurrent = (FitOption o) => o.PlanIds.SequenceEqual(current.PlanIds, StringComparer.Ordinal);
        var cheapest = closed.Count == 0
            ? null
            : options.Where(o => o.CoversUsage).OrderBy(o => o.Total).ThenBy(o => isCurrent(o) ? 0 : 1).ThenBy(o => o.PlanIds.Count).FirstOrDefault();
        return new PlanFitResult(account.Currency, fitPeriods, options, new FitCurrent(current.PlanIds, current.Total), cheapest,
            cheapest is null ? 0 : Math.Max(0, current.Total - cheapest.Total));
    }

    /// <summary>The last <paramref name="count"/> cycles that ended by <paramref name="now"/>, oldest first; fewer when the account is younger.</summary>
    public static IReadOnlyList<BillingCycle> ClosedPeriods(DateTimeOffset anchor, DateTimeOffset now, int count)
    {
        var closed = new List<BillingCycle>();
        var cycle = BillingCycle.Containing(anchor, now);
        while (closed.Count < count && cycle.Start > anchor)
        {
            cycle = BillingCycle.Containing(anchor, cycle.Start.AddTicks(-1));
            closed.Add(cycle);
        }
        closed.Reverse();
        return closed;
    }

    /// <summary>A month of the plan's fee: the fee of a monthly plan, a twelfth of a yearly one's.</summary>
    public static decimal MonthlyFee(Plan plan) => plan.Interval == PlanInterval.Year ? Rating.Round(plan.Fee / 12) : plan.Fee;

    private static bool In(BillingCycle period, DateTimeOffset at) => at >= period.Start && at < period.End;

    private static int IndexOf(IReadOnlyList<BillingCycle> periods, DateTimeOffset at)
    {
        for (var i = 0; i < periods.Count; i++)
            if (In(periods[i], at)) return i;
        return -1;
    }

    private static FitOption Evaluate(Account account, IReadOnlyList<Holding> holdings, IReadOnlyList<UsageRecorded> batches, IReadOnlyList<BillingCycle> closed, IReadOnlyList<string> meters)
    {
        var overage = new decimal[closed.Count];
        if (closed.Count > 0 && account.CycleAnchor is { } anchor)
        {
            var sim = new Account(account.Id, account.Settings);
            // One tick apart, so the draw order (oldest subscription first) is the order they are held in.
            for (var i = 0; i < holdings.Count; i++)
            {
                var subscribed = sim.Decide(new Subscribe(holdings[i].Plan, holdings[i].Team, anchor.AddTicks(i)));
                if (subscribed.Outcome.Refusal is { } refusal)
                    throw new InvalidOperationException($"Plan '{holdings[i].Plan.Id}' cannot be simulated: {refusal.Message}");
                ApplyAll(sim, subscribed.Events);
            }
            var end = closed[^1].End;
            foreach (var batch in batches.Where(b => b.At < end))
            {
                ApplyAll(sim, sim.Decide(new AdvanceClock(batch.At)).Events);
                var recorded = sim.Decide(new RecordUsage(batch.Accepted, batch.At)).Events;
                ApplyAll(sim, recorded);
                // Batches before the first compared period only bring the simulated quotas to where they stood.
                var period = IndexOf(closed, batch.At);
                if (period >= 0)
                    overage[period] += recorded.OfType<UsageRecorded>().Sum(u => u.Charges?.Sum(c => c.Amount) ?? 0);
            }
        }

        var fees = holdings.Sum(h => MonthlyFee(h.Plan));
        var costs = overage.Select(o => fees + o).ToArray();
        var covers = meters.All(m => holdings.Any(h => h.Plan.QuotaOf(m) > 0 || h.Plan.Overage.ContainsKey(m)));
        var label = string.Join(" + ", holdings.Select(h => h.Team is null ? h.Plan.Name : $"{h.Plan.Name} ({h.Team})"));
        return new FitOption(holdings.Select(h => h.Plan.Id).ToArray(), label, costs, costs.Sum(), covers);
    }

    private static void ApplyAll(Account account, IEnumerable<IAccountEvent> events)
    {
        foreach (var e in events) account.Apply(e);
    }
}
