using System.Diagnostics;
using System.Diagnostics.Metrics;
using Metering.Accounts;
using Metering.Ingestion.Consumer;

namespace Metering.LoadGen;

/// <summary>
/// Listens to the engine's own ingestion instruments in-process: how many records reached durable
/// state (accepted, duplicate and redelivered are all counted only after the journal write), each
/// event's ingest-to-persisted latency, and the accounts' recoveries. Reading the engine's metrics
/// adds no work to its hot path.
/// </summary>
public sealed class EngineMeters : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private readonly Lock _durableGate = new();
    /// <summary>The latency phase's event latencies (seconds) and when each was recorded.</summary>
    private readonly List<(double Seconds, long At)> _latencies = [];
    private long _latencyStartedAt;
    private readonly List<double> _persists = [];
    /// <summary>Each account recovery's duration (seconds) and when it ended, in the order they ended.</summary>
    private readonly List<(double Seconds, long At)> _recoveries = [];
    private long _batchRecords;
    private long _durable;
    private long _mark = long.MaxValue;
    private long _markedAt;
    private long _firstConsumedAt;
    private long _lastDurableAt;
    private bool _recordLatency;

    public EngineMeters()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == IngestionMetrics.MeterName && instrument.Name is
                    "metering.events.consumed" or "metering.events.accepted" or "metering.events.duplicates"
                    or "metering.events.redelivered" or "metering.events.dead_lettered" or "metering.events.latency"
                    or "metering.batch.persist.duration" or "metering.batch.size")
                listener.EnableMeasurementEvents(instrument);
            if (instrument.Meter.Name == AccountTelemetry.MeterName && instrument.Name == AccountTelemetry.RecoveryInstrument)
                listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            var now = Stopwatch.GetTimestamp();
            if (instrument.Name == "metering.batch.size")
            {
                lock (_gate)
                {
                    if (_recordLatency) _batchRecords += value;
                }
                return;
            }
            if (instrument.Name == "metering.events.consumed")
            {
                if (Interlocked.CompareExchange(ref _firstConsumedAt, now, 0) == 0)
                    AtFirstConsumed = ProcessCounters.Now();
                return;
            }
            // Under a lock, so whoever sees the count also sees the moment and the mark that came with
            // it: when one batch carried the whole run, the count was seen before its time was written
            // and the run measured a negative duration.
            lock (_durableGate)
            {
                _durable += value;
                if (_durable >= _mark && _markedAt == 0)
                {
                    _markedAt = now;
                    DurableAtMark = _durable;
                    AtMark = ProcessCounters.Now();
                }
                _lastDurableAt = now;
            }
        });
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) =>
        {
            var now = Stopwatch.GetTimestamp();
            lock (_gate)
            {
                if (instrument.Name == AccountTelemetry.RecoveryInstrument)
                {
                    _recoveries.Add((value, now));
                    return;
                }
                if (!_recordLatency) return;
                if (instrument.Name == "metering.events.latency") _latencies.Add((value, now));
                else _persists.Add(value);
            }
        });
        _listener.Start();
    }

    /// <summary>This process's counters when the engine consumed its first batch: start-up excluded from per-event CPU.</summary>
    public ProcessCounters AtFirstConsumed { get; private set; }

    /// <summary>Records persisted (or dropped as already persisted) since the listener started.</summary>
    public long Durable
    {
        get
        {
            lock (_durableGate) return _durable;
        }
    }

    /// <summary>From the engine's first consumed batch to the last record made durable.</summary>
    public TimeSpan Busy
    {
        get
        {
            lock (_durableGate) return Stopwatch.GetElapsedTime(Interlocked.Read(ref _firstConsumedAt), _lastDurableAt);
        }
    }

    /// <summary>
    /// Notes the moment <paramref name="durable"/> records are durable, so the rate after it leaves out
    /// the start (every account's first message recovers it, and the JIT is still at work).
    /// </summary>
    public void MarkAt(long durable)
    {
        lock (_durableGate) _mark = durable;
    }

    /// <summary>Records durable when the mark was passed (a batch may pass it by more than one).</summary>
    public long DurableAtMark { get; private set; }

    /// <summary>The process's CPU and garbage-collector counters at the mark.</summary>
    public ProcessCounters AtMark { get; private set; }

    /// <summary>From the mark to the last record made durable.</summary>
    public TimeSpan SinceMark
    {
        get
        {
            // Zero when the mark was never passed after it was set (the run was done before).
            lock (_durableGate) return _markedAt == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(_markedAt, _lastDurableAt);
        }
    }

    /// <summary>
    /// The first <paramref name="count"/> account recoveries (the run's accounts starting): when the
    /// last of them ended, from the engine's first consumed batch, and the quantiles of their durations.
    /// </summary>
    public (int Recovered, TimeSpan LastEnded, double[] DurationMs) Recoveries(int count, params double[] quantiles)
    {
        lock (_gate)
        {
            var first = _recoveries.Take(count).ToArray();
            var lastEnded = first.Length == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(Interlocked.Read(ref _firstConsumedAt), first[^1].At);
            return (first.Length, lastEnded, QuantilesMs([.. first.Select(r => r.Seconds)], quantiles));
        }
    }

    /// <summary>Starts collecting latencies afresh (for the half-load phase).</summary>
    public void StartLatency()
    {
        lock (_gate)
        {
            _latencies.Clear();
            _latencyStartedAt = Stopwatch.GetTimestamp();
            _persists.Clear();
            _batchRecords = 0;
            _recordLatency = true;
        }
    }

    /// <summary>The given quantiles of the collected latencies, in milliseconds.</summary>
    public double[] LatencyQuantilesMs(params double[] quantiles)
    {
        double[] sorted;
        lock (_gate)
        {
            _recordLatency = false;
            sorted = [.. _latencies.Select(l => l.Seconds)];
        }
        return QuantilesMs(sorted, quantiles);
    }

    /// <summary>
    /// The quantile of the latencies recorded in each second of the phase: whether the tail is the
    /// phase's start, a few pauses, or the whole phase.
    /// </summary>
    public double[] LatencyBySecondMs(double quantile)
    {
        lock (_gate)
        {
            return [.. _latencies.GroupBy(l => (long)Stopwatch.GetElapsedTime(_latencyStartedAt, l.At).TotalSeconds)
                .OrderBy(g => g.Key)
                .Select(g => QuantilesMs([.. g.Select(l => l.Seconds)], [quantile])[0])];
        }
    }

    /// <summary>
    /// The latency phase's batches: how many, their mean size and the quantiles of their persist time
    /// (first record read, the collection window included, to every account persisted), which tell
    /// the engine's part of the latency from the time a record waits before it is read.
    /// </summary>
    public (int Batches, double MeanRecords, double[] PersistMs) LatencyBatches(params double[] quantiles)
    {
        lock (_gate)
        {
            var count = _persists.Count;
            return (count, count == 0 ? 0 : (double)_batchRecords / count, QuantilesMs([.. _persists], quantiles));
        }
    }

    private static double[] QuantilesMs(double[] sorted, double[] quantiles)
    {
        Array.Sort(sorted);
        if (sorted.Length == 0) return quantiles.Select(_ => double.NaN).ToArray();
        return quantiles.Select(q => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)] * 1_000).ToArray();
    }

    public async Task WaitForAsync(long durable, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (Durable < durable)
        {
            if (clock.Elapsed > timeout)
                throw new TimeoutException($"The engine made {Durable:N0} of {durable:N0} records durable within {timeout}.");
            await Task.Delay(20);
        }
    }

    public void Dispose() => _listener.Dispose();
}
