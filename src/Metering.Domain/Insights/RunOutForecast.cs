using Metering.Domain.Accounts;
using Metering.Domain.Pricing;

namespace Metering.Domain.Insights;

public sealed record AutoRechargeForecast(bool Enabled, decimal Threshold, decimal Amount, DateTimeOffset? NextAt);

/// <param name="PerDay">Quota drawn per day so far in the current period, rounded half-to-even to 2 decimals for display.</param>
/// <param name="RunsOutAt">When the quota is used up at that pace; null when it lasts the period (or nothing was drawn yet).
/// A quota already used up answers <c>asOf</c>.</param>
public sealed record QuotaForecast(
    string SubscriptionId, string PlanId, string Meter, decimal Included, decimal Used, decimal Remaining,
    decimal PerDay, DateTimeOffset? RunsOutAt, DateTimeOffset PeriodEnd);

/// <param name="BurnPerDay">Wallet debits per day over the window, rounded half-to-even to cents for display; the run-out moments use the exact rate.</param>
/// <param name="BalanceRunsOutAt">Null when nothing burns, when it is further than <see cref="RunOutForecast.HorizonDays"/> days away,
/// or when auto-recharge keeps the balance up (then <see cref="AutoRechargeForecast.NextAt"/> says when it fires).</param>
public sealed record Forecast(
    DateTimeOffset AsOf, int WindowDays, decimal Balance, decimal BurnPerDay, DateTimeOffset? BalanceRunsOutAt,
    AutoRechargeForecast AutoRecharge, IReadOnlyList<QuotaForecast> Quotas);

/// <summary>
/// When the money and the quotas run out at the recent pace. Straight lines on purpose: the burn is
/// what the wallet was debited over the last <c>window</c> days (usage charges, volume credits and
/// invoice charges alike) divided by the window's days, and a quota's pace is what its subscription
/// drew since its period started. Moments are whole seconds (truncated).
/// </summary>
public static class RunOutForecast
{
    public const int MinWindowDays = 1;
    public const int MaxWindowDays = 90;
    public const int DefaultWindowDays = 7;

    /// <summary>Further than this is not a forecast worth showing: answered null.</summary>
    public const int HorizonDays = 3_650;

    /// <summary>What the wallet was debited by events in (<paramref name="from"/>, <paramref name="to"/>]: usage charges and invoice charges (fee and tax).</summary>
    public static decimal Debited(IEnumerable<IAccountEvent> journal, DateTimeOffset from, DateTimeOffset to) =>
        journal.Where(e => e.At > from && e.At <= to).Sum(e => e switch
        {
            UsageRecorded u => u.Charges?.Sum(c => c.Amount) ?? 0,
            InvoiceIssued i => i.ChargeAtIssue,
            _ => 0,
        });

    /// <param name="debitedInWindow">From <see cref="Debited"/> over the <paramref name="windowDays"/> days up to <paramref name="now"/>.</param>
    /// <param name="rechargeSuspended">Suspended auto-recharge does not keep anything up.</param>
    public static Forecast Compute(
        decimal balance, AutoRechargeSettings autoRecharge, bool rechargeSuspended, IEnumerable<SubscriptionSnapshot> activePlans,
        decimal debitedInWindow, int windowDays, DateTimeOffset now)
    {
        if (windowDays is < MinWindowDays or > MaxWindowDays)
            throw new ArgumentOutOfRangeException(nameof(windowDays), windowDays, $"The window is {MinWindowDays} to {MaxWindowDays} days.");
        var burn = debitedInWindow / windowDays;
        var recharging = autoRecharge.Enabled && !rechargeSuspended;

        DateTimeOffset? runsOut = null, nextRecharge = null;
        if (recharging)
            nextRecharge = balance < autoRecharge.Threshold ? now : After(now, balance - autoRecharge.Threshold, burn);
        else
            runsOut = After(now, balance, burn);

        var quotas = activePlans
            .SelectMany(s => s.Plan.Quotas.Where(q => q.Value > 0).OrderBy(q => q.Key, StringComparer.Ordinal).Select(q => Quota(s, q.Key, q.Value, now)))
            .ToArray();
        return new Forecast(now, windowDays, balance, Rating.Round(burn), runsOut,
            new AutoRechargeForecast(recharging, autoRecharge.Threshold, autoRecharge.Amount, nextRecharge), quotas);
    }

    private static QuotaForecast Quota(SubscriptionSnapshot s, string meter, decimal included, DateTimeOffset now)
    {
        var used = s.Used.GetValueOrDefault(meter);
        var remaining = Math.Max(0, included - used);
        var elapsedDays = (decimal)Math.Max(0, (now - s.PeriodStart).Ticks) / TimeSpan.TicksPerDay;
        var perDay = elapsedDays > 0 ? used / elapsedDays : 0;
        DateTimeOffset? runsOut = remaining == 0 ? now : After(now, remaining, perDay) is { } at && at < s.PeriodEnd ? at : null;
        return new QuotaForecast(s.Id, s.Plan.Id, meter, included, used, remaining, Rating.Round(perDay), runsOut, s.PeriodEnd);
    }

    /// <summary>When <paramref name="amount"/> is used up at <paramref name="perDay"/>; null when never or past the horizon.</summary>
    private static DateTimeOffset? After(DateTimeOffset now, decimal amount, decimal perDay)
    {
        if (perDay <= 0) return null;
        // Multiplied before dividing, so a whole number of seconds comes out whole (7/3 days is 201,600 s, not 201,599.99…).
        var seconds = Math.Max(0, amount) * 86_400 / perDay;
        if (seconds > HorizonDays * 86_400m) return null;
        return now.AddTicks((long)decimal.Truncate(seconds) * TimeSpan.TicksPerSecond);
    }
}
