namespace Metering.Domain.Meters;

/// <summary>How a meter turns matching events into a quantity.</summary>
public enum MeterAggregation
{
    /// <summary>Adds the value found at <see cref="MeterDefinition.ValuePath"/> (default 1 when absent).</summary>
    Sum,
    /// <summary>Counts events; the value path is ignored.</summary>
    Count,
}

/// <summary>
/// A meter is configuration, not code (as in OpenMeter): which CloudEvents type feeds it and where
/// the quantity is read.
/// </summary>
/// <param name="Key">Meter key used in plans, quotas and the API, e.g. <c>lead</c>.</param>
/// <param name="EventType">CloudEvents <c>type</c> that feeds it, e.g. <c>crm.lead.created</c>.</param>
/// <param name="ValuePath">Dotted path of the quantity inside the event, e.g. <c>data.quantity</c>.</param>
/// <param name="Aggregation">Sum of the value, or count of events.</param>
/// <param name="AllowFractional">Whether a quantity may have a fractional part (a call's minutes may; a lead may not).</param>
public sealed record MeterDefinition(
    string Key,
    string EventType,
    string ValuePath = "data.quantity",
    MeterAggregation Aggregation = MeterAggregation.Sum,
    bool AllowFractional = false)
{
    public const string DefaultValuePath = "data.quantity";
}
