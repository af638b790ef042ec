using Metering.Accounts.Persistence;
using System.Diagnostics.Metrics;

namespace Metering.Projections;

/// <summary>
/// How far each projection trails the journal. The lag is the age of the oldest journal event of
/// the kind it projects that it has not committed yet (zero when it has committed them all), measured on
/// the wall clock because the journal stamps events with it. Every node reads it from the shared
/// database, so any node answers it, wherever the singleton runs.
/// </summary>
public sealed class ProjectionTelemetry : IDisposable
{
    public const string MeterName = "Metering.Projections";

    /// <summary>Every projection the engine runs: its name and the journal rows it projects.</summary>
    public static readonly IReadOnlyList<(string Name, string JournalRows)> Projections =
    [
        (UsageProjection.ProjectionName, UsageProjection.JournalRows),
        (BillingListsProjection.ProjectionName, BillingListsProjection.JournalRows),
    ];

    private readonly Meter _meter;
    private readonly Counter<long> _events;
    private readonly ReadStore _store;

    public ProjectionTelemetry(IMeterFactory factory, ReadStore store)
    {
        _store = store;
        _meter = factory.Create(MeterName);
        _events = _meter.CreateCounter<long>("metering.projection.events", description: "Events committed to read tables, by projection");
        _meter.CreateObservableGauge("metering.projection.lag", ObserveLag, unit: "ms",
            description: "Age of the oldest journal event a projection has not committed yet; 0 when it is caught up");
    }

    public void Projected(string projection, int events) => _events.Add(events, new KeyValuePair<string, object?>("projection", projection));

    /// <summary>The lag of <paramref name="projection"/> now; zero when it has committed every event of its kind.</summary>
    public TimeSpan Lag(string projection)
    {
        var rows = Projections.Single(p => p.Name == projection).JournalRows;
        long offset;
        using (var read = _store.Open())
        using (var command = JournalDatabase.Command(read, null, $"SELECT ordering FROM {ProjectionOffsets.Table} WHERE name = @name", ("@name", projection)))
            offset = command.ExecuteScalar() is { } stored and not DBNull ? Convert.ToInt64(stored) : 0;
        using var connection = _store.Journal.Open();
        using var query = JournalDatabase.Command(connection, null, $"SELECT MIN(created) FROM journal WHERE {rows} AND ordering > @offset", ("@offset", offset));
        var oldest = query.ExecuteScalar();
        if (oldest is null or DBNull) return TimeSpan.Zero;
        var age = TimeProvider.System.GetUtcNow().UtcTicks - Convert.ToInt64(oldest);
        return TimeSpan.FromTicks(Math.Max(0, age));
    }

    private IEnumerable<Measurement<double>> ObserveLag()
    {
        var measurements = new List<Measurement<double>>();
        foreach (var (name, _) in Projections)
        {
            try
            {
                measurements.Add(new Measurement<double>(Lag(name).TotalMilliseconds, new KeyValuePair<string, object?>("projection", name)));
            }
            catch (System.Data.Common.DbException)
            {
                // Database unreachable or journal not created yet: no value rather than a wrong one.
            }
        }
        return measurements;
    }

    public void Dispose() => _meter.Dispose();
}
