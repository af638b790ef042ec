using Akka.Actor;
using Akka.Event;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace Metering.Projections;

/// <summary>
/// Runs one projection: reads the whole journal in order from the stored offset, and commits each batch's rows with
/// the new offset in one transaction, only if the offset is still where this run left it (so a
/// batch in flight on a node the singleton left cannot commit after the new node started). A
/// failure (database down, a bug in a batch) drops the projection's in-memory state, which may be
/// ahead of what was committed, and starts again from the stored offset after a backoff: nothing
/// is skipped and nothing is counted twice.
/// </summary>
public sealed class ProjectionActor : ReceiveActor, IWithTimers
{
    private sealed record Start;
    private sealed record Running(UniqueKillSwitch KillSwitch);
    private sealed record StreamEnded(Exception? Cause);
    private sealed record Reset;

    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    private readonly IProjection _projection;
    private readonly ReadStore _store;
    private readonly ProjectionsOptions _options;
    private readonly ProjectionTelemetry _telemetry;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _rebuildWaiters = [];
    private UniqueKillSwitch? _killSwitch;
    private bool _rebuildRequested;
    /// <summary>Between a start and its <see cref="StreamEnded"/>; otherwise a restart is waiting on its backoff.</summary>
    private bool _streaming;
    private TimeSpan _backoff = TimeSpan.FromSeconds(1);

    public ProjectionActor(IProjection projection, ReadStore store, ProjectionsOptions options, ProjectionTelemetry telemetry)
    {
        _projection = projection;
        _store = store;
        _options = options;
        _telemetry = telemetry;

        Receive<Start>(_ => StartStream());
        Receive<Running>(r =>
        {
            _killSwitch = r.KillSwitch;
            _backoff = TimeSpan.FromSeconds(1);
            // A rebuild asked for while the offset was being read stops this run at once.
            if (_rebuildRequested) _killSwitch.Shutdown();
        });
        Receive<StreamEnded>(OnStreamEnded);
        Receive<RebuildProjection>(_ =>
        {
            _rebuildWaiters.Add(Sender);
            if (_rebuildRequested) return;
            _rebuildRequested = true;
            if (_streaming)
            {
                _killSwitch?.Shutdown();
                return;
            }
            Timers.Cancel("restart");
            ResetAsync().PipeTo(Self, success: () => new Reset(), failure: e => new StreamEnded(e));
        });
        Receive<Reset>(_ =>
        {
            foreach (var waiter in _rebuildWaiters) waiter.Tell(new ProjectionRebuildStarted(_projection.Name, true));
            _rebuildWaiters.Clear();
            _rebuildRequested = false;
            _log.Info("Projection {0} emptied; projecting from the start of the journal", _projection.Name);
            Self.Tell(new Start());
        });
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(IProjection projection, ReadStore store, ProjectionsOptions options, ProjectionTelemetry telemetry) =>
        Akka.Actor.Props.Create(() => new ProjectionActor(projection, store, options, telemetry));

    protected override void PreStart() => Self.Tell(new Start());

    protected override void PostStop() => _killSwitch?.Shutdown();

    private void StartStream()
    {
        _streaming = true;
        var self = Self;
        var journal = PersistenceQuery.Get(Context.System).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var materializer = Context.Materializer();
        RunAsync().PipeTo(self, success: () => new StreamEnded(null), failure: e => new StreamEnded(e));

        async Task RunAsync()
        {
            long offset;
            await using (var connection = await _store.OpenAsync(CancellationToken.None))
                offset = await ProjectionOffsets.ReadAsync(connection, _projection.Name, CancellationToken.None);
            var (killSwitch, done) = journal.AllEvents(Offset.Sequence(offset))
                .ViaMaterialized(KillSwitches.Single<EventEnvelope>(), Keep.Right)
                .GroupedWithin(_options.BatchSize, _options.BatchWait)
                .SelectAsync(1, async batch => offset = await CommitAsync(batch.ToList(), offset))
                .ToMaterialized(Sink.Ignore<long>(), Keep.Both)
                .Run(materializer);
            self.Tell(new Running(killSwitch));
            await done;
        }
    }

    /// <returns>The new offset.</returns>
    private async Task<long> CommitAsync(IReadOnlyList<EventEnvelope> batch, long offset)
    {
        var last = batch[^1];
        var ordering = ((Sequence)last.Offset).Value;
        var write = await _projection.PrepareAsync(batch, CancellationToken.None);
        await _store.WriteAsync(async (connection, transaction) =>
        {
            await write(connection, transaction, CancellationToken.None);
            await ProjectionOffsets.AdvanceAsync(connection, transaction, _projection.Name, offset, ordering, last.Timestamp, CancellationToken.None);
        }, CancellationToken.None);
        _telemetry.Projected(_projection.Name, batch.Count);
        return ordering;
    }

    private void OnStreamEnded(StreamEnded ended)
    {
        _killSwitch = null;
        _streaming = false;
        // The in-memory state may hold events whose transaction never committed.
        _projection.Forget();
        if (_rebuildRequested)
        {
            ResetAsync().PipeTo(Self, success: () => new Reset(), failure: e => new StreamEnded(e));
            return;
        }
        if (ended.Cause is { } cause)
        {
            _log.Warning(cause, "Projection {0} failed; it resumes from its stored offset in {1}", _projection.Name, _backoff);
            Timers.StartSingleTimer("restart", new Start(), _backoff);
            _backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, _backoff.Ticks * 2));
            return;
        }
        // A live query ends only when stopped; start it again.
        Self.Tell(new Start());
    }

    /// <summary>Rows and offset go in one transaction, so a crash mid-rebuild leaves the old rows or none.</summary>
    private Task ResetAsync() => _store.WriteAsync(async (connection, transaction) =>
    {
        foreach (var table in _projection.Tables)
            await ReadStore.ExecuteAsync(connection, transaction, $"DELETE FROM {table}", CancellationToken.None);
        await ReadStore.ExecuteAsync(connection, transaction, $"DELETE FROM {ProjectionOffsets.Table} WHERE name = @name", CancellationToken.None, ("@name", _projection.Name));
    }, CancellationToken.None);
}
