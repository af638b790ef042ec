using Akka.Actor;
using Akka.Event;
using Akka.Persistence.Query;
using Metering.Accounts.Persistence;

namespace Metering.Projections;

/// <summary>
/// The cluster singleton, so a cluster of any size projects each event once. It reads the journal
/// once, in order, for every projection (reading and deserializing each row once rather than once
/// per projection was a measured share of the engine's CPU, docs/benchmarks.md), from the lowest of
/// their stored offsets; each projection gets the events past its own offset, and a batch's rows of
/// every projection commit with their offsets in one transaction. An offset moves only if it is
/// still where this run left it (so a batch in flight on a node the singleton left cannot commit
/// after the new node started). A failure (database down, a bug in a batch) drops the projections'
/// in-memory state, which may be ahead of what was committed, and starts again from the stored
/// offsets after a backoff: nothing is skipped and nothing is counted twice.
/// </summary>
public sealed class ProjectionsActor : ReceiveActor, IWithTimers
{
    public const string Id = "projections";

    private sealed record Start;
    private sealed record Running;
    private sealed record RunEnded(Exception? Cause);
    private sealed record Reset(IReadOnlyDictionary<string, List<IActorRef>> Rebuilt);
    private sealed record ResetFailed(IReadOnlyDictionary<string, List<IActorRef>> Rebuilding, Exception Cause);

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly IReadOnlyList<IProjection> _projections;
    private readonly JournalFeed _journal;
    private readonly ReadStore _store;
    private readonly ProjectionTelemetry _telemetry;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    /// <summary>Rebuilds asked for and not started yet, with who asked.</summary>
    private readonly Dictionary<string, List<IActorRef>> _rebuilds = new(StringComparer.Ordinal);
    /// <summary>Stops the run in progress.</summary>
    private CancellationTokenSource? _stop;
    /// <summary>Between a start and its <see cref="RunEnded"/>.</summary>
    private bool _running;
    /// <summary>Between emptying projections and its <see cref="Reset"/> or <see cref="ResetFailed"/>.</summary>
    private bool _resetting;
    private TimeSpan _backoff = TimeSpan.FromSeconds(1);

    public ProjectionsActor(IReadOnlyList<IProjection> projections, JournalFeed journal, ReadStore store, ProjectionTelemetry telemetry)
    {
        _projections = projections;
        _journal = journal;
        _store = store;
        _telemetry = telemetry;

        Receive<Start>(_ =>
        {
            if (_rebuilds.Count > 0) StartReset();
            else StartRun();
        });
        Receive<Running>(_ => _backoff = TimeSpan.FromSeconds(1));
        Receive<RunEnded>(OnRunEnded);
        Receive<RebuildProjection>(m =>
        {
            if (_projections.All(p => p.Name != m.Name))
            {
                Sender.Tell(new ProjectionRebuildStarted(m.Name, false));
                return;
            }
            if (!_rebuilds.TryGetValue(m.Name, out var waiters)) _rebuilds[m.Name] = waiters = [];
            waiters.Add(Sender);
            if (_running) _stop?.Cancel(); // the run's end starts the reset
            else if (!_resetting)
            {
                Timers.Cancel("restart");
                StartReset();
            }
        });
        Receive<Reset>(r =>
        {
            _resetting = false;
            foreach (var (name, waiters) in r.Rebuilt)
            {
                foreach (var waiter in waiters) waiter.Tell(new ProjectionRebuildStarted(name, true));
                _log.Info("Projection {0} emptied; projecting from the start of the journal", name);
            }
            Self.Tell(new Start());
        });
        Receive<ResetFailed>(f =>
        {
            _resetting = false;
            foreach (var (name, waiters) in f.Rebuilding)
            {
                if (!_rebuilds.TryGetValue(name, out var later)) _rebuilds[name] = later = [];
                later.AddRange(waiters);
            }
            RestartLater(f.Cause);
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IReadOnlyList<IProjection> projections, JournalFeed journal, ReadStore store, ProjectionTelemetry telemetry) =>
        Akka.Actor.Props.Create(() => new ProjectionsActor(projections, journal, store, telemetry));

    protected override void PreStart() => Self.Tell(new Start());

    protected override void PostStop() => _stop?.Cancel();

    private void StartRun()
    {
        _running = true;
        var self = Self;
        var stop = _stop = new CancellationTokenSource();
        RunAsync().PipeTo(self, success: () => new RunEnded(null), failure: e => new RunEnded(e));

        async Task RunAsync()
        {
            try
            {
                var offsets = new long[_projections.Count];
                await using (var connection = await _store.OpenAsync(stop.Token))
                    for (var i = 0; i < offsets.Length; i++)
                        offsets[i] = await ProjectionOffsets.ReadAsync(connection, _projections[i].Name, stop.Token);
                self.Tell(new Running());
                await foreach (var batch in _journal.FollowAsync(offsets.Min(), stop.Token))
                    await CommitAsync(batch, offsets);
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                // stopped: a rebuild, or the actor's end
            }
        }
    }

    /// <summary>Commits <paramref name="batch"/> for every projection it takes further, and moves their <paramref name="offsets"/>.</summary>
    private async Task CommitAsync(IReadOnlyList<EventEnvelope> batch, long[] offsets)
    {
        var last = batch[^1];
        var ordering = ((Sequence)last.Offset).Value;
        var writes = new List<(int Index, ProjectionWrite Write, int Events)>(_projections.Count);
        for (var i = 0; i < _projections.Count; i++)
        {
            var from = offsets[i];
            if (from >= ordering) continue; // a projection ahead of the others (they are being rebuilt)
            var events = ((Sequence)batch[0].Offset).Value > from ? batch : batch.Where(e => ((Sequence)e.Offset).Value > from).ToList();
            writes.Add((i, await _projections[i].PrepareAsync(events, CancellationToken.None), events.Count));
        }
        if (writes.Count == 0) return;
        await _store.WriteAsync(async (connection, transaction) =>
        {
            foreach (var (index, write, _) in writes)
            {
                await write(connection, transaction, CancellationToken.None);
                await ProjectionOffsets.AdvanceAsync(connection, transaction, _projections[index].Name, offsets[index], ordering, last.Timestamp, CancellationToken.None);
            }
        }, CancellationToken.None);
        foreach (var (index, _, events) in writes)
        {
            offsets[index] = ordering;
            _telemetry.Projected(_projections[index].Name, events);
        }
    }

    private void OnRunEnded(RunEnded ended)
    {
        _stop?.Dispose();
        _stop = null;
        _running = false;
        // The in-memory state may hold events whose transaction never committed.
        foreach (var projection in _projections) projection.Forget();
        if (_rebuilds.Count > 0) StartReset();
        else if (ended.Cause is { } cause) RestartLater(cause);
        else Self.Tell(new Start()); // a live run ends only when stopped; start it again
    }

    private void RestartLater(Exception cause)
    {
        _log.Warning(cause, "Projections failed; they resume from their stored offsets in {0}", _backoff);
        Timers.StartSingleTimer("restart", new Start(), _backoff);
        _backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, _backoff.Ticks * 2));
    }

    /// <summary>Empties the projections asked for; rows and offset go in one transaction, so a crash mid-rebuild leaves the old rows or none.</summary>
    private void StartReset()
    {
        _resetting = true;
        var rebuilding = new Dictionary<string, List<IActorRef>>(_rebuilds, StringComparer.Ordinal);
        _rebuilds.Clear();
        var projections = _projections.Where(p => rebuilding.ContainsKey(p.Name)).ToList();
        _store.WriteAsync(async (connection, transaction) =>
        {
            foreach (var projection in projections)
            {
                foreach (var table in projection.Tables)
                    await ReadStore.ExecuteAsync(connection, transaction, $"DELETE FROM {table}", CancellationToken.None);
                await ReadStore.ExecuteAsync(connection, transaction, $"DELETE FROM {ProjectionOffsets.Table} WHERE name = @name", CancellationToken.None, ("@name", projection.Name));
            }
        }, CancellationToken.None).PipeTo(Self, success: () => new Reset(rebuilding), failure: e => new ResetFailed(rebuilding, e));
    }
}
