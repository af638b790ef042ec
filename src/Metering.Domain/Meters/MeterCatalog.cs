namespace Metering.Domain.Meters;

/// <summary>The configured meters; each CloudEvents type feeds at most one.</summary>
public sealed class MeterCatalog
{
    public MeterCatalog(IEnumerable<MeterDefinition> meters)
    {
        Meters = meters.ToArray();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var eventTypes = new HashSet<string>(StringComparer.Ordinal);
        foreach (var meter in Meters)
        {
            if (string.IsNullOrWhiteSpace(meter.Key) || string.IsNullOrWhiteSpace(meter.EventType))
                throw new ArgumentException("A meter needs a key and an event type.");
            if (!keys.Add(meter.Key))
                throw new ArgumentException($"Meter key '{meter.Key}' is configured twice.");
            if (!eventTypes.Add(meter.EventType))
                throw new ArgumentException($"Event type '{meter.EventType}' feeds two meters.");
        }
    }

    /// <summary>The product's defaults: leads, calls and emails from the CRM.</summary>
    public static MeterCatalog Default { get; } = new(
    [
        new MeterDefinition("lead", "crm.lead.created"),
        new MeterDefinition("call", "crm.call.completed"),
        new MeterDefinition("email", "crm.email.sent"),
    ]);

    public IReadOnlyList<MeterDefinition> Meters { get; }
}
