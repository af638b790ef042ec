namespace Metering.Domain.Pricing;

/// <summary>
/// Turns cumulative overage into money.
/// </summary>
/// <remarks>
/// <para>Rounding rule. P(q) (<see cref="OveragePrice.PriceOf"/>) is computed exactly in decimal. A batch
/// that moves a meter's overage in the billing period from <c>before</c> to <c>after</c> is charged
/// <c>Round(P(after)) - Round(P(before))</c>, where Round rounds to the currency's minor unit
/// (<c>decimals</c>, 2 for every currency shipped) with <see cref="MidpointRounding.ToEven"/>
/// (banker's rounding: 0.125 → 0.12, 0.135 → 0.14).</para>
/// <para>Because every charge is a difference of rounded cumulative prices, the charges of any
/// batching of the same usage telescope to exactly <c>Round(P(total))</c>: no cent is lost or gained
/// by splitting, and the order of batches does not matter. Each charge is itself a whole number of
/// minor units.</para>
/// <para>With volume pricing P can decrease (crossing into a cheaper tier), so a charge can be
/// negative: that is a credit, and it is correct.</para>
/// </remarks>
public static class Rating
{
    /// <summary>Minor-unit decimals of every currency shipped.</summary>
    public const int DefaultDecimals = 2;

    /// <summary>Rounds to <paramref name="decimals"/> places, half to even.</summary>
    public static decimal Round(decimal amount, int decimals = DefaultDecimals) =>
        Math.Round(amount, decimals, MidpointRounding.ToEven);

    /// <summary>
    /// The charge for moving the period's overage from <paramref name="before"/> to
    /// <paramref name="after"/>: <c>Round(P(after)) - Round(P(before))</c>. See the class remarks.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="before"/> &lt; 0 or <paramref name="after"/> &lt; <paramref name="before"/>.</exception>
    public static decimal Charge(OveragePrice price, decimal before, decimal after, int decimals = DefaultDecimals)
    {
        ArgumentNullException.ThrowIfNull(price);
        if (before < 0) throw new ArgumentOutOfRangeException(nameof(before), before, "Overage cannot be negative.");
        if (after < before) throw new ArgumentOutOfRangeException(nameof(after), after, "Overage cannot go down within a period.");
        return Round(price.PriceOf(after), decimals) - Round(price.PriceOf(before), decimals);
    }

    /// <summary>Significant decimal places of a value, ignoring trailing zeros (1.50 has 1).</summary>
    internal static int DecimalPlaces(decimal value)
    {
        int scale = value.Scale;
        while (scale > 0 && value == Math.Round(value, scale - 1)) scale--;
        return scale;
    }
}
