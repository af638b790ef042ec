namespace Metering.Domain.Accounts;

/// <summary>A monthly period counted from an anchor instant.</summary>
public readonly record struct BillingCycle(DateTimeOffset Start, DateTimeOffset End)
{
    /// <summary>
    /// The cycle that contains <paramref name="at"/>. Periods are <c>anchor + n months</c>, each
    /// computed from the anchor (not from the previous end), so an anchor on the 31st gives
    /// Jan 31, Feb 28, Mar 31 rather than drifting to the 28th forever.
    /// </summary>
    public static BillingCycle Containing(DateTimeOffset anchor, DateTimeOffset at)
    {
        var n = Math.Max(0, (at.Year - anchor.Year) * 12 + at.Month - anchor.Month);
        while (n > 0 && anchor.AddMonths(n) > at) n--;
        while (anchor.AddMonths(n + 1) <= at) n++;
        return new BillingCycle(anchor.AddMonths(n), anchor.AddMonths(n + 1));
    }
}
