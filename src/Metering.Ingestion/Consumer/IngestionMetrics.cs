using System.Diagnostics.Metrics;

namespace Metering.Ingestion.Consumer;

/// <summary>Counters for the usage stream, exported by OpenTelemetry under the meter name <see cref="MeterName"/>.</summary>
public sealed class IngestionMetrics : IDisposable
{
    public const string MeterName = "Metering.Ingestion";

    private readonly Meter _meter;
    private readonly Counter<long> _consumed;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _duplicates;
    private readonly Counter<long> _redelivered;
    private readonly Counter<long> _deadLettered;

    public IngestionMetrics(IMeterFactory factory)
    {
        _meter = factory.Create(MeterName);
        _consumed = _meter.CreateCounter<long>("metering.events.consumed", description: "Usage records read from Kafka");
        _accepted = _meter.CreateCounter<long>("metering.events.accepted", description: "Usage events counted on an account");
        _duplicates = _meter.CreateCounter<long>("metering.events.duplicates", description: "Dropped: same CloudEvents (source, id) already counted");
        _redelivered = _meter.CreateCounter<long>("metering.events.redelivered", description: "Dropped: Kafka offset already persisted");
        _deadLettered = _meter.CreateCounter<long>("metering.events.dead_lettered", description: "Invalid events sent to the dead-letter topic");
    }

    public void Consumed(int n) => _consumed.Add(n);
    public void Recorded(int accepted, int duplicates, int redelivered)
    {
        _accepted.Add(accepted);
        _duplicates.Add(duplicates);
        _redelivered.Add(redelivered);
    }
    public void DeadLettered(string reason) => _deadLettered.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Dispose() => _meter.Dispose();
}
