namespace Metering.Domain.Meters;

/// <summary>The configured meters, looked up by CloudEvents type on the hot path.</summary>
public sealed class MeterCatalog
{
    private readonly Dictionary<string, MeterDefinition> _byEventType;

    public MeterCatalog(IEnumerable<MeterDefinition> meters)
    {
        Meters = meters.ToArray();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        _byEventType = new Dictionary<string, MeterDefinition>(StringComparer.Ordinal);
        foreach (var meter in Meters)
        {
            if (string.IsNullOrWhiteSpace(meter.Key) || string.IsNullOrWhiteSpace(meter.EventType))
                throw new ArgumentException("A meter needs a key and an event type.");
            if (!keys.Add(meter.Key))
                throw new ArgumentException($"Meter key '{meter.Key}' is configured twice.");
            if (!_byEventType.TryAdd(meter.EventType, meter))
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

    public MeterDefinition? FindByEventType(string eventType) =>
        _byEventType.GetValueOrDefault(eventType);
}
