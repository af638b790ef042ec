using System.Text.Json;
using CsCheck;
using Metering.Domain.Plans;
using Metering.Domain.Pricing;

namespace Metering.Domain.Tests;

public class PricingTests
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    // Graduated example from the design brief: [0-100 @0.10, 101-1000 @0.05 + flat 5, rest @0.01].
    private static readonly GraduatedPrice Graduated = new(
    [
        new PriceTier(100, 0.10m),
        new PriceTier(1000, 0.05m, 5),
        new PriceTier(null, 0.01m),
    ]);

    // Same bounds, volume: [<=100 @0.10, <=1000 @0.05 + flat 5, rest @0.01 + flat 20].
    private static readonly VolumePrice Volume = new(
    [
        new PriceTier(100, 0.10m),
        new PriceTier(1000, 0.05m, 5),
        new PriceTier(null, 0.01m, 20),
    ]);

    // ---------------------------------------------------------------- per_unit

    [Theory]
    [InlineData("0", "0")]
    [InlineData("1", "0.05")]
    [InlineData("123", "6.15")]    // 123 × 0.05
    [InlineData("2.5", "0.125")]   // fractional quantity, exact (not rounded) price
    public void Per_unit_is_quantity_times_unit_price(string q, string expected) =>
        Assert.Equal(decimal.Parse(expected), new PerUnitPrice(0.05m).PriceOf(decimal.Parse(q)));

    // ---------------------------------------------------------------- package

    [Theory]
    [InlineData("0", "0")]       // no package started
    [InlineData("1", "5")]       // ceil(1/1000) = 1 package × 5
    [InlineData("1000", "5")]    // exactly one full package
    [InlineData("1001", "10")]   // ceil(1001/1000) = 2 × 5
    [InlineData("2500", "15")]   // ceil(2.5) = 3 × 5
    [InlineData("0.5", "5")]     // a fraction of a unit still starts a package
    public void Package_charges_every_started_package(string q, string expected) =>
        Assert.Equal(decimal.Parse(expected), new PackagePrice(1000, 5).PriceOf(decimal.Parse(q)));

    [Fact]
    public void Package_with_a_fractional_size_counts_packages_exactly()
    {
        var price = new PackagePrice(0.1m, 1);
        Assert.Equal(3m, price.PackagesFor(0.3m));   // 0.3 / 0.1 = 3 exactly, not 4
        Assert.Equal(4m, price.PackagesFor(0.31m));
        var third = new PackagePrice(3, 2);
        Assert.Equal(1m, third.PackagesFor(3));      // 3/3, no drift
        Assert.Equal(2m, third.PackagesFor(3.0000000001m));
    }

    // ---------------------------------------------------------------- graduated

    [Theory]
    [InlineData("0", "0")]          // q = 0 reaches no tier, no flat fee
    [InlineData("50", "5")]         // 50 × 0.10
    [InlineData("100", "10")]       // exactly at upTo: 100 × 0.10, tier 2 not reached (no flat fee)
    [InlineData("100.5", "15.025")] // 100 × 0.10 + 0.5 × 0.05 + 5: part of a unit reaches tier 2
    [InlineData("101", "15.05")]    // 100 × 0.10 + 1 × 0.05 + 5
    [InlineData("250", "22.50")]    // 100 × 0.10 + 150 × 0.05 + 5 = 10 + 7.5 + 5
    [InlineData("1000", "60")]      // 100 × 0.10 + 900 × 0.05 + 5 = 10 + 45 + 5
    [InlineData("1500", "65")]      // 60 + 500 × 0.01
    public void Graduated_prices_each_tier_at_its_own_price(string q, string expected) =>
        Assert.Equal(decimal.Parse(expected), Graduated.PriceOf(decimal.Parse(q)));

    [Fact]
    public void Graduated_flat_fee_of_the_first_tier_applies_from_the_first_unit()
    {
        var price = new GraduatedPrice([new PriceTier(10, 1, 3), new PriceTier(null, 0.5m)]);
        Assert.Equal(0m, price.PriceOf(0));
        Assert.Equal(3.1m, price.PriceOf(0.1m));  // 0.1 × 1 + 3
        Assert.Equal(13.5m, price.PriceOf(11));   // 10 × 1 + 3 + 1 × 0.5
    }

    // ---------------------------------------------------------------- volume

    [Theory]
    [InlineData("0", "0")]          // q = 0 costs 0 (no flat fee)
    [InlineData("100", "10")]       // exactly at upTo: tier 1, 100 × 0.10
    [InlineData("100.5", "10.025")] // tier 2: 100.5 × 0.05 + 5
    [InlineData("101", "10.05")]    // tier 2: 101 × 0.05 + 5
    [InlineData("250", "17.5")]     // tier 2: 250 × 0.05 + 5 = 12.5 + 5
    [InlineData("1000", "55")]      // tier 2: 1000 × 0.05 + 5
    [InlineData("1001", "30.01")]   // tier 3: 1001 × 0.01 + 20
    public void Volume_prices_all_units_at_the_tier_the_total_falls_in(string q, string expected) =>
        Assert.Equal(decimal.Parse(expected), Volume.PriceOf(decimal.Parse(q)));

    [Fact]
    public void Volume_crossing_into_a_cheaper_tier_is_a_credit()
    {
        var price = new VolumePrice([new PriceTier(100, 0.10m), new PriceTier(null, 0.05m)]);
        // P(100) = 100 × 0.10 = 10.00; P(101) = 101 × 0.05 = 5.05; charge = 5.05 - 10.00.
        Assert.Equal(-4.95m, Rating.Charge(price, 100, 101));
        Assert.Equal(5.05m, Rating.Charge(price, 0, 100) + Rating.Charge(price, 100, 101));
    }

    [Fact]
    public void Prices_reject_a_negative_quantity()
    {
        OveragePrice[] prices = [new PerUnitPrice(1), new PackagePrice(1, 1), Graduated, Volume];
        foreach (var price in prices)
            Assert.Throws<ArgumentOutOfRangeException>(() => price.PriceOf(-1));
    }

    // ---------------------------------------------------------------- rounding and charges

    [Theory]
    [InlineData("0.125", "0.12")]  // half to even: 2 is even
    [InlineData("0.135", "0.14")]  // half to even: 4 is even
    [InlineData("0.1251", "0.13")] // above the half
    [InlineData("15.025", "15.02")]
    [InlineData("-4.955", "-4.96")]
    public void Round_is_half_to_even_on_two_decimals(string amount, string expected) =>
        Assert.Equal(decimal.Parse(expected), Rating.Round(decimal.Parse(amount)));

    [Fact]
    public void Round_takes_the_number_of_decimals()
    {
        Assert.Equal(1.234m, Rating.Round(1.2345m, 3)); // half to even at 3 decimals
        Assert.Equal(2m, Rating.Round(2.5m, 0));
        Assert.Equal(4m, Rating.Round(3.5m, 0));
    }

    [Fact]
    public void Charges_are_differences_of_rounded_cumulative_prices()
    {
        // Half a cent per unit: P(1) = 0.005 → 0.00, P(3) = 0.015 → 0.02, P(5) = 0.025 → 0.02 (to even).
        var price = new PerUnitPrice(0.005m);
        var charges = new[] { Rating.Charge(price, 0, 1), Rating.Charge(price, 1, 3), Rating.Charge(price, 3, 5) };
        Assert.Equal([0.00m, 0.02m, 0.00m], charges);
        // They telescope to Round(P(5)) = Round(0.025) = 0.02, the same as one batch of 5.
        Assert.Equal(Rating.Charge(price, 0, 5), charges.Sum());
        Assert.Equal(0.02m, charges.Sum());
    }

    [Fact]
    public void Graduated_half_cent_charge_rounds_to_even()
    {
        // P(100) = 10.00; P(100.5) = 15.025 → 15.02 (even); charge 5.02. Then P(101) = 15.05: charge 0.03.
        Assert.Equal(5.02m, Rating.Charge(Graduated, 100, 100.5m));
        Assert.Equal(0.03m, Rating.Charge(Graduated, 100.5m, 101));
        Assert.Equal(15.05m, Rating.Charge(Graduated, 0, 100) + 5.02m + 0.03m);
    }

    [Fact]
    public void Charge_uses_the_given_minor_unit()
    {
        var price = new PerUnitPrice(0.5m);
        Assert.Equal(0m, Rating.Charge(price, 0, 1, decimals: 0)); // 0.5 → 0
        Assert.Equal(2m, Rating.Charge(price, 1, 3, decimals: 0)); // 1.5 → 2, minus 0
        Assert.Equal(0.5m, Rating.Charge(price, 0, 1, decimals: 3));
    }

    [Fact]
    public void Charge_rejects_negative_or_decreasing_overage()
    {
        var price = new PerUnitPrice(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => Rating.Charge(price, -1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => Rating.Charge(price, 3, 2));
        Assert.Equal(0m, Rating.Charge(price, 2, 2));
    }

    // ---------------------------------------------------------------- JSON

    [Fact]
    public void Json_writes_the_contract_shape_of_each_model()
    {
        Assert.Equal("""{"model":"per_unit","unitPrice":0.05}""",
            JsonSerializer.Serialize<OveragePrice>(new PerUnitPrice(0.05m), Json));
        Assert.Equal("""{"model":"package","packageSize":1000,"packagePrice":5}""",
            JsonSerializer.Serialize<OveragePrice>(new PackagePrice(1000, 5), Json));
        Assert.Equal("""{"model":"graduated","tiers":[{"upTo":100,"unitPrice":0.10},{"upTo":1000,"unitPrice":0.05,"flatFee":5},{"upTo":null,"unitPrice":0.01}]}""",
            JsonSerializer.Serialize<OveragePrice>(Graduated, Json));
        Assert.Equal("""{"model":"volume","tiers":[{"upTo":100,"unitPrice":0.10},{"upTo":1000,"unitPrice":0.05,"flatFee":5},{"upTo":null,"unitPrice":0.01,"flatFee":20}]}""",
            JsonSerializer.Serialize<OveragePrice>(Volume, Json));
    }

    [Fact]
    public void Json_round_trips_each_model()
    {
        OveragePrice[] prices = [new PerUnitPrice(0.05m), new PackagePrice(1000, 5), Graduated, Volume];
        foreach (var price in prices)
        {
            var back = JsonSerializer.Deserialize<OveragePrice>(JsonSerializer.Serialize(price, Json), Json);
            Assert.Equal(price, back);
            Assert.IsType(price.GetType(), back);
        }
    }

    private const string ContractPlan = """
        {
          "id": "pro",
          "name": "Pro",
          "currency": "USD",
          "fee": 49,
          "interval": "month",
          "quotas": { "lead": 5000, "call": 2000, "email": 20000 },
          "overage": {
            "lead":  { "model": "per_unit", "unitPrice": 0.03 },
            "email": { "model": "package", "packageSize": 1000, "packagePrice": 1.5 },
            "call":  { "model": "graduated", "tiers": [
                       { "upTo": 100, "unitPrice": 0.10 },
                       { "upTo": 1000, "unitPrice": 0.05, "flatFee": 5 },
                       { "upTo": null, "unitPrice": 0.01 } ] },
            "sms":   { "model": "volume", "tiers": [ { "upTo": 10, "unitPrice": 1 }, { "upTo": null, "unitPrice": 0.5 } ] }
          }
        }
        """;

    [Fact]
    public void Json_reads_the_contract_example()
    {
        var plan = JsonSerializer.Deserialize<Plan>(ContractPlan, Json)!;
        var expected = new Plan("pro", "Pro", "USD", 49, PlanInterval.Month,
            new Dictionary<string, decimal> { ["lead"] = 5000, ["call"] = 2000, ["email"] = 20000 },
            new Dictionary<string, OveragePrice>
            {
                ["lead"] = new PerUnitPrice(0.03m),
                ["email"] = new PackagePrice(1000, 1.5m),
                ["call"] = Graduated,
                ["sms"] = new VolumePrice([new PriceTier(10, 1), new PriceTier(null, 0.5m)]),
            });
        Assert.Equal(expected, plan);
        Assert.Empty(plan.Validate());
        Assert.Equal(22.50m, plan.Overage["call"].PriceOf(250));
    }

    [Fact]
    public void Json_writes_a_plan_in_camel_case_with_lower_case_interval()
    {
        var json = JsonSerializer.Serialize(DefaultPlans.AgencyYearly, Json);
        Assert.Contains("\"interval\":\"year\"", json);
        Assert.Contains("\"quotas\":{\"lead\":240000,", json);
        Assert.Contains("\"overage\":{\"lead\":{\"model\":\"volume\",\"tiers\":[{\"upTo\":120000,", json);
        Assert.Contains("\"interval\":\"month\"", JsonSerializer.Serialize(DefaultPlans.Starter, Json));
    }

    [Fact]
    public void Json_reads_the_model_anywhere_when_the_host_allows_out_of_order_metadata()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { AllowOutOfOrderMetadataProperties = true };
        Assert.Equal(new PackagePrice(10, 2),
            JsonSerializer.Deserialize<OveragePrice>("""{"packageSize":10,"packagePrice":2,"model":"package"}""", options));
    }

    [Fact]
    public void Json_rejects_an_unknown_or_missing_model()
    {
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<OveragePrice>("""{"model":"tiered","unitPrice":1}""", Json));
        // No discriminator: the abstract base cannot be built (a host maps this to 400 like a JsonException).
        Assert.Throws<NotSupportedException>(() => JsonSerializer.Deserialize<OveragePrice>("""{"unitPrice":1}""", Json));
    }

    [Fact]
    public void Json_rejects_an_unknown_interval() =>
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Plan>(ContractPlan.Replace("\"month\"", "\"week\""), Json));

    // ---------------------------------------------------------------- validation

    [Fact]
    public void Valid_prices_have_no_errors()
    {
        Assert.Empty(new PerUnitPrice(0).Validate());
        Assert.Empty(new PerUnitPrice(0.123456m).Validate());
        Assert.Empty(new PerUnitPrice(0.1234560000m).Validate()); // trailing zeros are not decimals
        Assert.Empty(new PackagePrice(0.5m, 0).Validate());
        Assert.Empty(new PackagePrice(0.000001m, 1m).Validate()); // exactly the largest price of one unit
        Assert.Empty(Graduated.Validate());
        Assert.Empty(Volume.Validate());
        Assert.Empty(new VolumePrice([new PriceTier(null, 1)]).Validate());
    }

    public static TheoryData<OveragePrice, string> InvalidPrices => new()
    {
        { new PerUnitPrice(-0.01m), "unitPrice must be >= 0" },
        { new PerUnitPrice(0.1234567m), "at most 6 decimal places" },
        { new PackagePrice(0, 5), "packageSize must be > 0" },
        // Found by the pricing fuzz test: 10^15 units would cost ~10^27, past the digits decimal keeps for cents.
        { new PackagePrice(0.000001m, 981786.819717m), "the price of one unit) must be <= 1000000" },
        { new PackagePrice(-1, 5), "packageSize must be > 0" },
        { new PackagePrice(10, -5), "packagePrice must be >= 0" },
        { new PackagePrice(10, 0.0000001m), "at most 6 decimal places" },
        { new GraduatedPrice([]), "At least one tier" },
        { new VolumePrice(null!), "At least one tier" },
        { new GraduatedPrice([new PriceTier(100, 1), new PriceTier(100, 1), new PriceTier(null, 1)]), "greater than the previous" },
        { new VolumePrice([new PriceTier(100, 1), new PriceTier(50, 1), new PriceTier(null, 1)]), "greater than the previous" },
        { new GraduatedPrice([new PriceTier(0, 1), new PriceTier(null, 1)]), "upTo must be > 0" },
        { new GraduatedPrice([new PriceTier(null, 1), new PriceTier(null, 1)]), "only the last tier" },
        { new VolumePrice([new PriceTier(null, 1), new PriceTier(100, 1)]), "only the last tier" },
        { new GraduatedPrice([new PriceTier(100, 1)]), "last tier must be unbounded" },
        { new GraduatedPrice([new PriceTier(null, -1)]), "unitPrice must be >= 0" },
        { new VolumePrice([new PriceTier(null, 1, -2)]), "flatFee must be >= 0" },
        { new VolumePrice([new PriceTier(null, 1, 0.00000001m)]), "flatFee may have at most 6 decimal places" },
    };

    [Theory]
    [MemberData(nameof(InvalidPrices))]
    public void Invalid_prices_are_reported(OveragePrice price, string error) =>
        Assert.Contains(price.Validate(), e => e.Contains(error, StringComparison.Ordinal));

    [Fact]
    public void Pricing_with_a_bounded_last_tier_is_refused_past_the_bound()
    {
        var graduated = new GraduatedPrice([new PriceTier(100, 1)]);
        Assert.Equal(100m, graduated.PriceOf(100));
        Assert.Throws<InvalidOperationException>(() => graduated.PriceOf(101));
        Assert.Throws<InvalidOperationException>(() => new VolumePrice([new PriceTier(100, 1)]).PriceOf(101));
        Assert.Throws<InvalidOperationException>(() => new PackagePrice(0, 1).PriceOf(1));
    }

    // ---------------------------------------------------------------- plans

    private static Plan ValidPlan() => DefaultPlans.Starter;

    public static TheoryData<string, string> InvalidPlans => new()
    {
        { "id", "id must be" },
        { "name", "name is required" },
        { "longName", "at most 100 characters" },
        { "currency", "currency must be three upper-case letters" },
        { "fee", "fee must be >= 0" },
        { "feeDecimals", "fee may have at most 2 decimal places" },
        { "quotaFraction", "quotas.lead must be a whole number" },
        { "quotaNegative", "quotas.lead must be >= 0" },
        { "overage", "overage.call: packageSize must be > 0" },
        { "interval", "interval must be month or year" },
    };

    [Theory]
    [MemberData(nameof(InvalidPlans))]
    public void Invalid_plans_are_reported(string field, string error)
    {
        var plan = ValidPlan();
        plan = field switch
        {
            "id" => plan with { Id = "-starter" },
            "name" => plan with { Name = " " },
            "longName" => plan with { Name = new string('x', 101) },
            "currency" => plan with { Currency = "usd" },
            "fee" => plan with { Fee = -1 },
            "feeDecimals" => plan with { Fee = 19.001m },
            "quotaFraction" => plan with { Quotas = new Dictionary<string, decimal> { ["lead"] = 1.5m } },
            "quotaNegative" => plan with { Quotas = new Dictionary<string, decimal> { ["lead"] = -1 } },
            "overage" => plan with { Overage = new Dictionary<string, OveragePrice> { ["call"] = new PackagePrice(0, 1) } },
            "interval" => plan with { Interval = (PlanInterval)7 },
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };
        Assert.Contains(plan.Validate(), e => e.Contains(error, StringComparison.Ordinal));
    }

    [Fact]
    public void A_fee_and_quotas_with_trailing_zeros_are_valid() =>
        Assert.Empty((ValidPlan() with { Fee = 19.9900m, Quotas = new Dictionary<string, decimal> { ["lead"] = 500.00m } }).Validate());

    [Fact]
    public void Period_end_is_one_month_or_one_year_later()
    {
        var start = new DateTimeOffset(2027, 1, 31, 9, 30, 0, TimeSpan.Zero);
        Assert.Equal(new DateTimeOffset(2027, 2, 28, 9, 30, 0, TimeSpan.Zero), DefaultPlans.Starter.PeriodEnd(start));
        Assert.Equal(new DateTimeOffset(2028, 1, 31, 9, 30, 0, TimeSpan.Zero), DefaultPlans.AgencyYearly.PeriodEnd(start));
        var leap = new DateTimeOffset(2028, 2, 29, 0, 0, 0, TimeSpan.FromHours(2));
        Assert.Equal(new DateTimeOffset(2029, 2, 28, 0, 0, 0, TimeSpan.FromHours(2)), DefaultPlans.AgencyYearly.PeriodEnd(leap));
    }

    [Fact]
    public void Every_default_plan_is_valid()
    {
        foreach (var plan in DefaultPlans.All)
            Assert.True(plan.Validate().Count == 0, $"{plan.Id}: {string.Join(" ", plan.Validate())}");
    }

    [Fact]
    public void Default_catalog_has_the_expected_plans()
    {
        Assert.Equal(["starter", "pro", "agency", "agency-yearly", "email-pack", "calls-pack"], DefaultPlans.All.Select(p => p.Id));
        Assert.All(DefaultPlans.All, p => Assert.Equal("USD", p.Currency));
        Assert.Equal(19m, DefaultPlans.Find("starter")!.Fee);
        Assert.Null(DefaultPlans.Find("enterprise"));
        Assert.IsType<GraduatedPrice>(DefaultPlans.Pro.Overage["call"]);
        Assert.IsType<VolumePrice>(DefaultPlans.AgencyMonthly.Overage["email"]);
        Assert.IsType<PackagePrice>(DefaultPlans.EmailPack.Overage["email"]);
        Assert.Equal(10_000m, DefaultPlans.EmailPack.QuotaOf("email"));
        Assert.Equal(0m, DefaultPlans.EmailPack.QuotaOf("lead"));
    }

    [Fact]
    public void Default_plans_round_trip_through_json()
    {
        foreach (var plan in DefaultPlans.All)
            Assert.Equal(plan, JsonSerializer.Deserialize<Plan>(JsonSerializer.Serialize(plan, Json), Json));
    }

    // ---------------------------------------------------------------- properties

    private const int Iterations = 300;

    /// <summary>A price with up to 6 decimals, 0 to 2.</summary>
    private static readonly Gen<decimal> UnitPriceGen = Gen.Int[0, 2_000_000].Select(i => i * 0.000001m);

    /// <summary>A flat fee, often 0.</summary>
    private static readonly Gen<decimal> FlatFeeGen = Gen.Select(Gen.Int[0, 2], Gen.Int[0, 50_000])
        .Select(t => t.Item1 == 0 ? t.Item2 * 0.0001m : 0m);

    /// <summary>1 to 4 tiers with ascending (sometimes fractional) bounds, the last unbounded.</summary>
    private static readonly Gen<PriceTier[]> TiersGen = Gen.Select(Gen.Int[1, 80], UnitPriceGen, FlatFeeGen)
        .Array[1, 4]
        .Select(parts =>
        {
            decimal bound = 0;
            return parts.Select((p, i) =>
            {
                bound += p.Item1 * 0.5m;
                return new PriceTier(i == parts.Length - 1 ? null : bound, p.Item2, p.Item3);
            }).ToArray();
        });

    private static readonly Gen<OveragePrice> PerUnitGen = UnitPriceGen.Select(p => (OveragePrice)new PerUnitPrice(p));
    private static readonly Gen<OveragePrice> PackageGen =
        Gen.Select(Gen.Int[1, 40], Gen.Int[0, 1], UnitPriceGen)
            .Select(t => (OveragePrice)new PackagePrice(t.Item2 == 0 ? t.Item1 : t.Item1 * 0.25m, t.Item3 * 10));
    private static readonly Gen<OveragePrice> GraduatedGen = TiersGen.Select(t => (OveragePrice)new GraduatedPrice(t));
    private static readonly Gen<OveragePrice> VolumeGen = TiersGen.Select(t => (OveragePrice)new VolumePrice(t));

    private static readonly Gen<OveragePrice> AnyPriceGen = Gen.OneOf(PerUnitGen, PackageGen, GraduatedGen, VolumeGen);
    private static readonly Gen<OveragePrice> MonotonePriceGen = Gen.OneOf(PerUnitGen, PackageGen, GraduatedGen);

    /// <summary>Positive quantities, whole or in quarters (call minutes can be fractional).</summary>
    private static readonly Gen<decimal[]> QuantitiesGen = Gen.Int[1, 240].Select(i => i * 0.25m).Array[0, 40];

    private static readonly Gen<int[]> CutsGen = Gen.Int[0, 100].Array[0, 8];

    /// <summary>Cuts the quantities into consecutive batches and returns each batch's sum.</summary>
    private static decimal[] Batches(decimal[] quantities, int[] cuts)
    {
        var points = cuts.Select(c => c % (quantities.Length + 1)).Append(0).Append(quantities.Length).Distinct().Order().ToArray();
        return [.. Enumerable.Range(1, points.Length - 1).Select(i => quantities[points[i - 1]..points[i]].Sum())];
    }

    /// <summary>Rates the batches in order as one billing period; returns every charge.</summary>
    private static List<decimal> Charges(OveragePrice price, IEnumerable<decimal> batches)
    {
        var charges = new List<decimal>();
        decimal used = 0;
        foreach (var batch in batches)
        {
            charges.Add(Rating.Charge(price, used, used + batch));
            used += batch;
        }
        return charges;
    }

    [Fact]
    public void Generated_prices_are_valid()
    {
        AnyPriceGen.Sample(price => Assert.Empty(price.Validate()), iter: Iterations);
    }

    [Fact]
    public void Property_charges_sum_to_the_rounded_price_of_the_total()
    {
        Gen.Select(AnyPriceGen, QuantitiesGen, CutsGen).Sample((price, quantities, cuts) =>
        {
            var charges = Charges(price, Batches(quantities, cuts));
            Assert.Equal(Rating.Round(price.PriceOf(quantities.Sum())), charges.Sum());
            Assert.All(charges, c => Assert.Equal(c, Rating.Round(c))); // whole cents
        }, iter: Iterations);
    }

    [Fact]
    public void Property_the_total_does_not_depend_on_batching_or_order()
    {
        Gen.Select(AnyPriceGen, QuantitiesGen, CutsGen, CutsGen, Gen.Int).Sample((price, quantities, cuts1, cuts2, seed) =>
        {
            var reordered = quantities.ToArray();
            new Random(seed).Shuffle(reordered);
            var one = Charges(price, Batches(quantities, cuts1)).Sum();
            var other = Charges(price, Batches(reordered, cuts2)).Sum();
            var single = Charges(price, [quantities.Sum()]).Sum();
            var unitByUnit = Charges(price, quantities).Sum();
            Assert.Equal(one, other);
            Assert.Equal(one, single);
            Assert.Equal(one, unitByUnit);
        }, iter: Iterations);
    }

    [Fact]
    public void Property_per_unit_package_and_graduated_never_charge_negative()
    {
        Gen.Select(MonotonePriceGen, QuantitiesGen, CutsGen).Sample((price, quantities, cuts) =>
        {
            Assert.All(Charges(price, Batches(quantities, cuts)), c => Assert.True(c >= 0, $"charge {c}"));
            Assert.All(Charges(price, quantities), c => Assert.True(c >= 0, $"charge {c}"));
        }, iter: Iterations);
    }

    [Fact]
    public void Property_json_round_trips_any_price()
    {
        AnyPriceGen.Sample(price =>
            Assert.Equal(price, JsonSerializer.Deserialize<OveragePrice>(JsonSerializer.Serialize(price, Json), Json)),
            iter: Iterations);
    }
}
