using System.Text.Json.Serialization;
using Metering.Domain.Accounts;
using Metering.Domain.Pricing;

namespace Metering.Domain.Plans;

/// <summary>How often a plan's fee is charged and its quotas reset. JSON: <c>"month"</c> / <c>"year"</c>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<PlanInterval>))]
public enum PlanInterval
{
    [JsonStringEnumMemberName("month")] Month,
    [JsonStringEnumMemberName("year")] Year,
}

/// <summary>
/// A plan: a recurring fee, the usage it includes per billing period, and how usage above that is priced.
/// </summary>
/// <remarks>
/// JSON (camelCase): <c>{"id":"pro","name":"Pro","currency":"USD","fee":49,"interval":"month",
/// "quotas":{"call":2000},"overage":{"call":{"model":"per_unit","unitPrice":0.05}}}</c>.
/// Overage for a meter is the usage in the period above <see cref="Quotas"/> (0 when the meter has no quota),
/// rated by <see cref="Rating.Charge"/>.
/// </remarks>
/// <param name="Id">Same alphabet as account ids (<see cref="AccountId.Rule"/>).</param>
/// <param name="Name">Display name, 1 to 100 characters.</param>
/// <param name="Currency">ISO 4217 code, three upper-case letters.</param>
/// <param name="Fee">Charged each <see cref="Interval"/>, at most 2 decimals.</param>
/// <param name="Interval">Length of a billing period.</param>
/// <param name="Quotas">Units included per period, by meter key; whole numbers.</param>
/// <param name="Overage">Price of usage above the quota, by meter key.</param>
public sealed record Plan(
    string Id,
    string Name,
    string Currency,
    decimal Fee,
    PlanInterval Interval,
    IReadOnlyDictionary<string, decimal> Quotas,
    IReadOnlyDictionary<string, OveragePrice> Overage)
{
    public const int MaxNameLength = 100;
    public const int FeeDecimals = 2;
    /// <summary>Largest fee: prorating and taxing it stays far inside decimal's range.</summary>
    public const decimal MaxFee = 1_000_000_000m;

    /// <summary>What is wrong with this plan, empty when it is valid. Never throws.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!AccountId.IsValid(Id)) errors.Add($"id must be {AccountId.Rule}.");
        if (string.IsNullOrWhiteSpace(Name)) errors.Add("name is required.");
        else if (Name.Length > MaxNameLength) errors.Add($"name may have at most {MaxNameLength} characters.");
        else if (Name.Any(char.IsControl)) errors.Add("name may not contain control characters.");
        if (Currency is not { Length: 3 } || !Currency.All(char.IsAsciiLetterUpper))
            errors.Add($"currency must be three upper-case letters (got '{Currency}').");
        if (Fee < 0) errors.Add($"fee must be >= 0 (got {Fee}).");
        if (Fee > MaxFee) errors.Add($"fee must be <= {MaxFee} (got {Fee}).");
        if (Rating.DecimalPlaces(Fee) > FeeDecimals) errors.Add($"fee may have at most {FeeDecimals} decimal places (got {Fee}).");
        if (!Enum.IsDefined(Interval)) errors.Add($"interval must be month or year (got {(int)Interval}).");

        if (Quotas is null) errors.Add("quotas is required.");
        else
        {
            foreach (var (meter, included) in Quotas)
            {
                if (string.IsNullOrWhiteSpace(meter)) errors.Add("quotas: a meter key is empty.");
                if (included < 0) errors.Add($"quotas.{meter} must be >= 0 (got {included}).");
                if (included != decimal.Truncate(included)) errors.Add($"quotas.{meter} must be a whole number (got {included}).");
                if (included > OveragePrice.MaxQuantity) errors.Add($"quotas.{meter} must be <= {OveragePrice.MaxQuantity} (got {included}).");
            }
        }

        if (Overage is null) errors.Add("overage is required.");
        else
        {
            foreach (var (meter, price) in Overage)
            {
                if (string.IsNullOrWhiteSpace(meter)) errors.Add("overage: a meter key is empty.");
                if (price is null) errors.Add($"overage.{meter} is missing its price.");
                else errors.AddRange(price.Validate().Select(e => $"overage.{meter}: {e}"));
            }
        }
        return errors;
    }

    /// <summary>End (exclusive) of the billing period that starts at <paramref name="start"/>: one month or one year later.</summary>
    public DateTimeOffset PeriodEnd(DateTimeOffset start) => Interval switch
    {
        PlanInterval.Month => start.AddMonths(1),
        PlanInterval.Year => start.AddYears(1),
        _ => throw new InvalidOperationException($"Unknown plan interval {Interval}."),
    };

    /// <summary>Units of <paramref name="meter"/> included per period (0 when the plan has no quota for it).</summary>
    public decimal QuotaOf(string meter) => Quotas?.GetValueOrDefault(meter) ?? 0;

    /// <summary>Value equality, including the contents of <see cref="Quotas"/> and <see cref="Overage"/>.</summary>
    public bool Equals(Plan? other) =>
        other is not null
        && Id == other.Id && Name == other.Name && Currency == other.Currency
        && Fee == other.Fee && Interval == other.Interval
        && SameEntries(Quotas, other.Quotas) && SameEntries(Overage, other.Overage);

    public override int GetHashCode() => HashCode.Combine(Id, Name, Currency, Fee, Interval, Quotas?.Count, Overage?.Count);

    private static bool SameEntries<T>(IReadOnlyDictionary<string, T>? a, IReadOnlyDictionary<string, T>? b)
    {
        if (ReferenceEquals(a, b)) return true;
        if (a is null || b is null || a.Count != b.Count) return false;
        foreach (var (key, value) in a)
        {
            if (!b.TryGetValue(key, out var other) || !EqualityComparer<T>.Default.Equals(value, other)) return false;
        }
        return true;
    }
}
