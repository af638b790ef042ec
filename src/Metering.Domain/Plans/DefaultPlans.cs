using Metering.Domain.Pricing;

namespace Metering.Domain.Plans;

/// <summary>
/// The catalog shipped with the product: USD plans for a CRM metering leads, calls and emails.
/// Base plans (starter, pro, agency, agency-yearly) and add-on packs (email-pack, calls-pack).
/// Quotas and tier bounds are per billing period, so the yearly plan's are twelve times the monthly's.
/// </summary>
public static class DefaultPlans
{
    private static PriceTier Tier(decimal? upTo, decimal unitPrice, decimal flatFee = 0) => new(upTo, unitPrice, flatFee);

    private static Dictionary<string, decimal> Quotas(decimal leads, decimal calls, decimal emails) =>
        new() { ["lead"] = leads, ["call"] = calls, ["email"] = emails };

    private static Plan Agency(string id, string name, decimal fee, PlanInterval interval, decimal scale) => new(
        id, name, "USD", fee, interval,
        Quotas(20_000 * scale, 10_000 * scale, 100_000 * scale),
        new Dictionary<string, OveragePrice>
        {
            ["lead"] = new VolumePrice([Tier(10_000 * scale, 0.02m), Tier(100_000 * scale, 0.015m), Tier(null, 0.01m)]),
            ["call"] = new VolumePrice([Tier(5_000 * scale, 0.05m), Tier(50_000 * scale, 0.04m), Tier(null, 0.03m)]),
            ["email"] = new VolumePrice([Tier(100_000 * scale, 0.001m), Tier(1_000_000 * scale, 0.0008m), Tier(null, 0.0006m)]),
        });

    public static Plan Starter { get; } = new(
        "starter", "Starter", "USD", 19m, PlanInterval.Month,
        Quotas(500, 200, 2_000),
        new Dictionary<string, OveragePrice>
        {
            ["lead"] = new PerUnitPrice(0.05m),
            ["call"] = new PerUnitPrice(0.10m),
            ["email"] = new PerUnitPrice(0.002m),
        });

    public static Plan Pro { get; } = new(
        "pro", "Pro", "USD", 49m, PlanInterval.Month,
        Quotas(5_000, 2_000, 20_000),
        new Dictionary<string, OveragePrice>
        {
            ["lead"] = new PerUnitPrice(0.03m),
            ["call"] = new GraduatedPrice([Tier(1_000, 0.08m), Tier(10_000, 0.06m), Tier(null, 0.04m)]),
            ["email"] = new GraduatedPrice([Tier(10_000, 0.0015m), Tier(100_000, 0.001m), Tier(null, 0.0008m)]),
        });

    public static Plan AgencyMonthly { get; } = Agency("agency", "Agency", 199m, PlanInterval.Month, 1);

    /// <summary>The agency plan billed yearly: ten months' fee, a year's quotas.</summary>
    public static Plan AgencyYearly { get; } = Agency("agency-yearly", "Agency (yearly)", 1_990m, PlanInterval.Year, 12);

    /// <summary>Add-on: 10,000 emails a month; beyond that, packs of 10,000 at $10.</summary>
    public static Plan EmailPack { get; } = new(
        "email-pack", "Email pack", "USD", 10m, PlanInterval.Month,
        new Dictionary<string, decimal> { ["email"] = 10_000 },
        new Dictionary<string, OveragePrice> { ["email"] = new PackagePrice(10_000, 10m) });

    /// <summary>Add-on: 1,000 calls a month; beyond that, packs of 500 at $7.50.</summary>
    public static Plan CallsPack { get; } = new(
        "calls-pack", "Calls pack", "USD", 15m, PlanInterval.Month,
        new Dictionary<string, decimal> { ["call"] = 1_000 },
        new Dictionary<string, OveragePrice> { ["call"] = new PackagePrice(500, 7.50m) });

    public static IReadOnlyList<Plan> All { get; } = [Starter, Pro, AgencyMonthly, AgencyYearly, EmailPack, CallsPack];

    /// <summary>The default plan with this id, or null.</summary>
    public static Plan? Find(string id) => All.FirstOrDefault(p => p.Id == id);
}
