using System.Text.Json.Serialization;

namespace Metering.Domain.Pricing;

/// <summary>
/// How the overage of one meter (the usage above the plan's quota) is priced over a billing period.
/// <see cref="PriceOf"/> is the exact, unrounded cumulative price of <c>quantity</c> units of overage
/// in the period; a batch is charged <see cref="Rating.Charge"/> = Round(P(after)) - Round(P(before)),
/// so the total does not depend on how usage was batched or ordered.
/// </summary>
/// <remarks>
/// JSON (camelCase, <c>JsonSerializerDefaults.Web</c>), the discriminator is <c>model</c>:
/// <c>{"model":"per_unit","unitPrice":0.05}</c>,
/// <c>{"model":"package","packageSize":1000,"packagePrice":5}</c>,
/// <c>{"model":"graduated"|"volume","tiers":[{"upTo":100,"unitPrice":0.1},{"upTo":null,"unitPrice":0.05,"flatFee":5}]}</c>.
/// System.Text.Json reads the discriminator only when it is the first property unless the options set
/// <c>AllowOutOfOrderMetadataProperties = true</c>, which an HTTP host should do.
/// </remarks>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "model")]
[JsonDerivedType(typeof(PerUnitPrice), "per_unit")]
[JsonDerivedType(typeof(PackagePrice), "package")]
[JsonDerivedType(typeof(GraduatedPrice), "graduated")]
[JsonDerivedType(typeof(VolumePrice), "volume")]
public abstract record OveragePrice
{
    /// <summary>Most decimal places a unit price, package price, flat fee or package size may have.</summary>
    public const int MaxPriceDecimals = 6;

    /// <summary>
    /// Largest unit price, package price or flat fee. With <see cref="MaxQuantity"/> it keeps every
    /// cumulative price far inside decimal's range (10^15 units × 10^6 ≈ 10^21), so rating a valid
    /// price never overflows.
    /// </summary>
    public const decimal MaxPrice = 1_000_000m;

    /// <summary>Most overage units of one meter a billing period is rated for (10^15: a billion events of the largest quantity).</summary>
    public const decimal MaxQuantity = 1_000_000_000_000_000m;

    /// <summary>The exact (unrounded) cumulative price of <paramref name="quantity"/> units of overage.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The quantity is negative.</exception>
    public abstract decimal PriceOf(decimal quantity);

    /// <summary>What is wrong with this price, empty when it is valid. Never throws.</summary>
    public abstract IReadOnlyList<string> Validate();

    private protected static void RequireNonNegative(decimal quantity)
    {
        if (quantity < 0) throw new ArgumentOutOfRangeException(nameof(quantity), quantity, "A quantity cannot be negative.");
    }

    private protected static void CheckPrice(List<string> errors, string what, decimal value)
    {
        if (value < 0) errors.Add($"{what} must be >= 0 (got {value}).");
        if (value > MaxPrice) errors.Add($"{what} must be <= {MaxPrice} (got {value}).");
        if (Rating.DecimalPlaces(value) > MaxPriceDecimals) errors.Add($"{what} may have at most {MaxPriceDecimals} decimal places (got {value}).");
    }

    /// <summary>Shared validation of tiered prices: ascending positive bounds, only the last unbounded.</summary>
    private protected static IReadOnlyList<string> ValidateTiers(IReadOnlyList<PriceTier>? tiers)
    {
        var errors = new List<string>();
        if (tiers is null || tiers.Count == 0)
        {
            errors.Add("At least one tier is required.");
            return errors;
        }
        decimal previous = 0;
        for (var i = 0; i < tiers.Count; i++)
        {
            var tier = tiers[i];
            if (tier is null)
            {
                errors.Add($"Tier {i + 1} is missing.");
                continue;
            }
            var last = i == tiers.Count - 1;
            if (tier.UpTo is { } upTo)
            {
                if (last) errors.Add($"The last tier must be unbounded (upTo null), tier {i + 1} has upTo {upTo}.");
                if (upTo <= 0) errors.Add($"Tier {i + 1}: upTo must be > 0 (got {upTo}).");
                else if (upTo <= previous) errors.Add($"Tier {i + 1}: upTo must be greater than the previous tier's ({upTo} <= {previous}).");
                previous = Math.Max(previous, upTo);
            }
            else if (!last)
            {
                errors.Add($"Tier {i + 1}: only the last tier may have upTo null.");
            }
            CheckPrice(errors, $"Tier {i + 1}: unitPrice", tier.UnitPrice);
            CheckPrice(errors, $"Tier {i + 1}: flatFee", tier.FlatFee);
        }
        return errors;
    }

    private protected static bool TiersEqual(IReadOnlyList<PriceTier>? a, IReadOnlyList<PriceTier>? b) =>
        ReferenceEquals(a, b) || (a is not null && b is not null && a.SequenceEqual(b));

    private protected static int TiersHash(IReadOnlyList<PriceTier>? tiers)
    {
        var hash = new HashCode();
        if (tiers is not null)
            foreach (var tier in tiers) hash.Add(tier);
        return hash.ToHashCode();
    }

    private protected static InvalidOperationException Invalid(OveragePrice price) =>
        new($"The price is invalid: {string.Join(" ", price.Validate())}");
}

/// <summary>Each unit of overage at the same price: P(q) = q × unitPrice.</summary>
public sealed record PerUnitPrice(decimal UnitPrice) : OveragePrice
{
    public override decimal PriceOf(decimal quantity)
    {
        RequireNonNegative(quantity);
        return quantity * UnitPrice;
    }

    public override IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        CheckPrice(errors, "unitPrice", UnitPrice);
        return errors;
    }
}

/// <summary>
/// Overage sold in whole packages, a started package is paid in full:
/// P(q) = ceil(q / packageSize) × packagePrice.
/// </summary>
/// <param name="Size">Units in a package (JSON <c>packageSize</c>), &gt; 0.</param>
/// <param name="Price">Price of one package (JSON <c>packagePrice</c>).</param>
public sealed record PackagePrice(
    [property: JsonPropertyName("packageSize")] decimal Size,
    [property: JsonPropertyName("packagePrice")] decimal Price) : OveragePrice
{
    /// <summary>Packages needed for <paramref name="quantity"/> units: ceil(q / size), exactly.</summary>
    public decimal PackagesFor(decimal quantity)
    {
        RequireNonNegative(quantity);
        if (Size <= 0) throw Invalid(this);
        // Decimal division rounds past 28 digits; correct the ceiling with exact multiplications.
        var packages = Math.Ceiling(quantity / Size);
        while (packages > 0 && (packages - 1) * Size >= quantity) packages--;
        while (packages * Size < quantity) packages++;
        return packages;
    }

    public override decimal PriceOf(decimal quantity) => PackagesFor(quantity) * Price;

    public override IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Size <= 0) errors.Add($"packageSize must be > 0 (got {Size}).");
        // A smaller package would make ceil(q / size) overflow within MaxQuantity.
        if (Rating.DecimalPlaces(Size) > MaxPriceDecimals) errors.Add($"packageSize may have at most {MaxPriceDecimals} decimal places (got {Size}).");
        CheckPrice(errors, "packagePrice", Price);
        // One unit may cost no more than MaxPrice here either: tiny packages at a large price reach
        // 10^27 within MaxQuantity, where decimal no longer holds cents and batches stop adding up.
        if (Size > 0 && Rating.DecimalPlaces(Size) <= MaxPriceDecimals && Price is >= 0 and <= MaxPrice && Price / Size > MaxPrice)
            errors.Add($"packagePrice / packageSize (the price of one unit) must be <= {MaxPrice} (got {Price} per {Size} units).");
        return errors;
    }
}

/// <summary>
/// One tier of a tiered price. Bounds are inclusive: a tier covers quantities in
/// (previous tier's <see cref="UpTo"/>, <see cref="UpTo"/>]; the last tier has <see cref="UpTo"/> null (unbounded).
/// </summary>
/// <param name="UpTo">Inclusive upper bound, or null for the last, unbounded tier.</param>
/// <param name="UnitPrice">Price of a unit in this tier.</param>
/// <param name="FlatFee">Charged once when the tier is reached; optional in JSON, omitted when 0.</param>
public sealed record PriceTier(
    decimal? UpTo,
    decimal UnitPrice,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] decimal FlatFee = 0);

/// <summary>
/// Graduated (step) pricing: each tier's units at that tier's price, plus the flat fee of every tier
/// reached. A tier is reached when q &gt; the previous tier's upTo (any part of a unit falls in it);
/// q = 0 reaches none. P is non-decreasing in q.
/// </summary>
public sealed record GraduatedPrice(IReadOnlyList<PriceTier> Tiers) : OveragePrice
{
    public override decimal PriceOf(decimal quantity)
    {
        RequireNonNegative(quantity);
        if (Tiers is null || Tiers.Count == 0) throw Invalid(this);
        decimal total = 0, previous = 0;
        foreach (var tier in Tiers)
        {
            if (quantity <= previous) return total;
            var top = tier.UpTo is { } upTo ? Math.Min(quantity, upTo) : quantity;
            total += (top - previous) * tier.UnitPrice + tier.FlatFee;
            if (tier.UpTo is not { } bound) return total;
            previous = bound;
        }
        if (quantity <= previous) return total;
        throw Invalid(this); // the last tier is bounded and the quantity goes past it
    }

    public override IReadOnlyList<string> Validate() => ValidateTiers(Tiers);

    public bool Equals(GraduatedPrice? other) => other is not null && TiersEqual(Tiers, other.Tiers);

    public override int GetHashCode() => TiersHash(Tiers);
}

/// <summary>
/// Volume pricing: all units at the unit price of the tier the total quantity falls in, plus that
/// tier's flat fee; q = 0 costs 0. P can go down when q crosses into a cheaper tier, so a charge can be
/// negative (a credit).
/// </summary>
public sealed record VolumePrice(IReadOnlyList<PriceTier> Tiers) : OveragePrice
{
    public override decimal PriceOf(decimal quantity)
    {
        RequireNonNegative(quantity);
        if (Tiers is null || Tiers.Count == 0) throw Invalid(this);
        if (quantity == 0) return 0;
        foreach (var tier in Tiers)
        {
            if (tier.UpTo is not { } upTo || quantity <= upTo)
                return quantity * tier.UnitPrice + tier.FlatFee;
        }
        throw Invalid(this); // the last tier is bounded and the quantity goes past it
    }

    public override IReadOnlyList<string> Validate() => ValidateTiers(Tiers);

    public bool Equals(VolumePrice? other) => other is not null && TiersEqual(Tiers, other.Tiers);

    public override int GetHashCode() => TiersHash(Tiers);
}
