using CsCheck;
using Metering.Domain.Accounts;
using Metering.Domain.Plans;
using Metering.Domain.Pricing;
using Metering.Domain.Usage;

namespace Metering.Simulation.Tests;

/// <summary>
/// Fuzzing of plan validation and the pricing engine over the whole decimal range (the property
/// tests in Metering.Domain.Tests cover realistic prices; these go for the edges). Validation
/// answers any plan, however broken, with errors and never throws; a plan it accepts prices every
/// quantity up to <see cref="OveragePrice.MaxQuantity"/> without throwing, never charges a monotone
/// model negative, and rates cumulatively (batches add up to the one-shot charge); an account on
/// such a plan takes usage without throwing.
/// </summary>
public class PricingFuzzTests
{
    private const int Iterations = 20_000;

    /// <summary>Any decimal, with the edges made likely.</summary>
    private static readonly Gen<decimal> Wild = Gen.OneOf(
        Gen.Select(Gen.Int, Gen.Int, Gen.Int, Gen.Bool, Gen.Int[0, 28]).Select((lo, mid, hi, negative, scale) => new decimal(lo, mid, hi, negative, (byte)scale)),
        Gen.Int[-3, 1_000].Select(i => (decimal)i),
        Gen.OneOf(0m, -0.000001m, 0.0000001m, 1e-28m, 0.5m, 1_000_000m, 1_000_000.01m, decimal.MaxValue, decimal.MinValue, decimal.MaxValue / 3));

    /// <summary>Non-negative with at most 6 decimals, as the price rules ask, but of any size.</summary>
    private static readonly Gen<decimal> Big = Gen.OneOf(
        Gen.Select(Gen.Long[0, long.MaxValue], Gen.Int[0, 6]).Select(t => t.Item1 / Pow10(t.Item2)),
        Gen.Select(Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue], Gen.Int[0, int.MaxValue], Gen.Int[0, 6]).Select(t => new decimal(t.Item1, t.Item2, t.Item3, false, (byte)t.Item4)),
        Gen.Int[0, 2_000_000].Select(i => i * 0.000001m),
        Gen.Int[0, 100].Select(i => (decimal)i));

    /// <summary>Valid prices up to and at the limit.</summary>
    private static readonly Gen<decimal> Edge = Gen.OneOf(
        Gen.Long[0, 1_000_000_000_000].Select(l => l / 1_000_000m),
        Gen.OneOf(0m, 0.000001m, OveragePrice.MaxPrice),
        Gen.Int[0, 100].Select(i => (decimal)i));

    private static Gen<IReadOnlyList<PriceTier>?> Tiers(Gen<decimal> value) =>
        Gen.Select(Gen.Int[0, 9], value, value, value).Array[0, 5].Select(parts =>
        {
            if (parts.Length == 0) return null;
            decimal bound = 0;
            return (IReadOnlyList<PriceTier>?)parts.Select((p, i) =>
            {
                var (kind, upTo, unitPrice, flatFee) = p;
                var tierUpTo = kind < 6 ? bound += Math.Abs(upTo % 1_000_000) + 1 : upTo; // mostly ascending, sometimes anything
                return kind == 9 ? null! : new PriceTier(i == parts.Length - 1 && kind < 8 ? null : tierUpTo, unitPrice, kind == 7 ? 0 : flatFee);
            }).ToArray();
        });

    private static Gen<OveragePrice> Prices(Gen<decimal> value) => Gen.OneOf(
        value.Select(p => (OveragePrice)new PerUnitPrice(p)),
        Gen.Select(value, value).Select(t => (OveragePrice)new PackagePrice(t.Item1, t.Item2)),
        Tiers(value).Select(t => (OveragePrice)new GraduatedPrice(t!)),
        Tiers(value).Select(t => (OveragePrice)new VolumePrice(t!)));

    private static readonly Gen<OveragePrice> WildPrice = Prices(Wild);
    private static readonly Gen<OveragePrice> BigPrice = Prices(Big);
    private static readonly Gen<OveragePrice> EdgePrice = Prices(Edge);

    /// <summary>Quantities from a fraction of a unit up to the most overage a period is rated for.</summary>
    private static readonly Gen<decimal> Quantity = Gen.OneOf(
        Gen.Int[0, 1_000].Select(i => (decimal)i),
        Gen.Int[0, 4_000].Select(i => i * 0.25m),
        Gen.Long[0, 1_000_000_000_000_000].Select(l => (decimal)l),
        Gen.OneOf(0m, 0.0001m, OveragePrice.MaxQuantity));

    private static readonly Gen<Plan> WildPlan =
        Gen.Select(Gen.OneOf("p1", "", "-x", "a b", new string('p', 65)), Gen.OneOf("Plan", "", " ", new string('n', 101)), Gen.OneOf("USD", "usd", "", "EURO"),
                Wild, Gen.Int[-1, 2], Gen.Select(Gen.OneOf("lead", "call", "", " "), Wild).Array[0, 4], Gen.Select(Gen.OneOf("lead", "call", ""), WildPrice, Gen.Bool).Array[0, 3], Gen.Int[0, 9])
            .Select((id, name, currency, fee, interval, quotas, overage, nulls) => new Plan(id, name, currency, fee, (PlanInterval)interval,
                nulls == 0 ? null! : quotas.DistinctBy(q => q.Item1).ToDictionary(q => q.Item1, q => q.Item2),
                nulls == 1 ? null! : overage.DistinctBy(o => o.Item1).ToDictionary(o => o.Item1, o => o.Item3 ? null! : o.Item2)));

    /// <summary>Plans that pass validation or nearly, with fees, quotas and prices up to the limits.</summary>
    private static readonly Gen<Plan> BigPlan =
        Gen.Select(Gen.OneOf(Edge, Gen.OneOf(Plan.MaxFee)), Gen.Bool, Gen.Select(Gen.OneOf("lead", "call", "email"), Gen.Long[0, 1_000_000_000_000_000]).Array[0, 3],
                Gen.Select(Gen.OneOf("lead", "call", "email"), EdgePrice).Array[1, 3])
            .Select((fee, yearly, quotas, overage) => new Plan("big", "Big", "USD", Math.Round(fee, 2), yearly ? PlanInterval.Year : PlanInterval.Month,
                quotas.DistinctBy(q => q.Item1).ToDictionary(q => q.Item1, q => (decimal)q.Item2),
                overage.DistinctBy(o => o.Item1).ToDictionary(o => o.Item1, o => o.Item2)));

    [Fact]
    public void Validation_answers_any_plan_and_never_throws() =>
        WildPlan.Sample(plan => Assert.NotNull(plan.Validate()), iter: Iterations);

    [Fact]
    public void Validation_answers_any_price_and_never_throws() =>
        WildPrice.Sample(price => Assert.NotNull(price.Validate()), iter: Iterations);

    [Fact]
    public void A_valid_price_rates_every_quantity_cumulatively_and_never_throws() =>
        Gen.Select(Gen.OneOf(BigPrice, EdgePrice, WildPrice), Quantity, Quantity, Quantity).Where((price, _, _, _) => price.Validate().Count == 0)
            .Sample((price, a, b, c) =>
            {
                Span<decimal> q = [a, b, c];
                q.Sort();
                var (q1, q2, q3) = (q[0], q[1], q[2]);
                var oneShot = Rating.Charge(price, q1, q3);
                var batched = Rating.Charge(price, q1, q2) + Rating.Charge(price, q2, q3);
                Assert.Equal(oneShot, batched);
                Assert.Equal(oneShot, Rating.Round(oneShot));
                if (price is VolumePrice) return; // a cheaper tier can credit; see OveragePrice
                Assert.True(Rating.Charge(price, q1, q2) >= 0 && Rating.Charge(price, q2, q3) >= 0, $"negative charge for {price}");
                Assert.True(price.PriceOf(q1) <= price.PriceOf(q2) && price.PriceOf(q2) <= price.PriceOf(q3), $"{price} is not monotone");
            }, iter: Iterations);

    [Fact]
    public void An_account_on_any_valid_plan_takes_usage_without_throwing()
    {
        var t0 = new DateTimeOffset(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
        Gen.Select(BigPlan, Gen.Select(Gen.OneOf("lead", "call", "email"), Gen.Int[1, 1_000_000]).Array[1, 20], Gen.Int[0, 400])
            .Where((plan, _, _) => plan.Validate().Count == 0)
            .Sample((plan, usage, days) =>
            {
                var account = new Account("acct-fuzz", AccountSettings.Default);
                decimal charged = 0;
                void Run(IReadOnlyList<IAccountEvent> events)
                {
                    foreach (var e in events)
                    {
                        charged += e switch
                        {
                            UsageRecorded u => u.Charges?.Sum(c => c.Amount) ?? 0,
                            InvoiceIssued i => i.ChargeAtIssue,
                            _ => 0,
                        };
                        account.Apply(e);
                    }
                }
                Run(account.Decide(new Subscribe(plan, null, t0)).Events);
                var records = usage.Select((u, i) => new UsageRecord("crm", $"e-{i}", u.Item1, u.Item2, t0, null, null, new KafkaPosition(0, i))).ToArray();
                Run(account.Decide(new RecordUsage(records, t0.AddHours(1))).Events);
                Run(account.Decide(new AdvanceClock(t0.AddDays(days))).Events);
                Assert.Equal(records.Length, account.EventsProcessed);
                Assert.Equal(-charged, account.Balance - account.PendingBalance);
            }, iter: 5_000);
    }

    /// <summary>What the fuzzers found, pinned: each was valid and overflowed decimal when rated, prorated or drawn.</summary>
    public static TheoryData<OveragePrice, string> OverflowingPrices => new()
    {
        { new PerUnitPrice(10_000_000_000_000_000_000_000_000m), "unitPrice must be <= 1000000" },
        { new PackagePrice(0.0000000000000000000000000001m, 1), "packageSize may have at most 6 decimal places" },
        { new GraduatedPrice([new PriceTier(10, 1, 79_000_000_000_000_000_000_000_000_000m), new PriceTier(null, 1)]), "Tier 1: flatFee must be <= 1000000" },
    };

    [Theory]
    [MemberData(nameof(OverflowingPrices))]
    public void Prices_that_would_overflow_are_refused(OveragePrice price, string error) =>
        Assert.Contains(price.Validate(), e => e.Contains(error, StringComparison.Ordinal));

    [Fact]
    public void Fees_and_quotas_that_would_overflow_are_refused()
    {
        var plan = DefaultPlans.Starter with { Fee = 3_000_000_000_000_000_000_000_000_000m, Quotas = new Dictionary<string, decimal> { ["lead"] = 1e27m } };
        Assert.Contains(plan.Validate(), e => e.StartsWith("fee must be <=", StringComparison.Ordinal));
        Assert.Contains(plan.Validate(), e => e.StartsWith("quotas.lead must be <=", StringComparison.Ordinal));
        Assert.Empty((DefaultPlans.Starter with { Fee = Plan.MaxFee, Quotas = new Dictionary<string, decimal> { ["lead"] = OveragePrice.MaxQuantity } }).Validate());
    }

    private static decimal Pow10(int n) => n == 0 ? 1 : 10 * Pow10(n - 1);
}
