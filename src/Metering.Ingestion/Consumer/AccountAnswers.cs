using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;
using Metering.Accounts;
using Metering.Accounts.Messages;

namespace Metering.Ingestion.Consumer;

/// <summary>What the accounts of a batch answered, summed.</summary>
public readonly record struct AnswerTotals(int Accepted, int Duplicates, int Redelivered);

/// <summary>
/// Where every account of one batch answers: one actor ref for the batch. An ask per account made a
/// temporary actor, a promise, a timeout timer and a path name for each account, and each account
/// kept its asker (its last sender) alive until its next message, so all of it outlived the next
/// garbage collection (docs/benchmarks.md, session 20). Registered as a temporary actor, as an ask's
/// is, so an account on another node can answer too.
/// <para>
/// An account answers <see cref="UsageAccepted"/> once its part is durable, after a <see cref="UsageApplied"/> when
/// it writes behind. Each account's first answer frees its place of the shared window and counts it
/// as applied; the batch is done when every account's part is durable. The batch fails when no account has been asked
/// or has answered for the ask timeout while some still owe an answer, or when the consumer stops;
/// the places of the accounts that never answered are then freed at once, and late answers ignored.
/// </para>
/// </summary>
internal sealed class AccountAnswers : MinimalActorRef
{
    private readonly SemaphoreSlim _window;
    private readonly TimeSpan _timeout;
    private readonly TaskCompletionSource<AnswerTotals> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _applied = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _failed = new();
    /// <summary>The open span of each account asked and not answered yet, when the batch is traced.</summary>
    private readonly Dictionary<string, Activity>? _spans;
    private readonly Lock _gate = new();
    private readonly Timer _watch;
    private readonly CancellationTokenRegistration _stopping;
    private int _asked, _appliedCount, _answered, _accepted, _duplicates, _redelivered;
    private bool _allAsked, _allApplied, _finished;
    private long _lastProgress = Environment.TickCount64;

    private readonly ConcurrentDictionary<string, bool> _mayHoldUnwritten;

    /// <param name="mayHoldUnwritten">Where an account that answers <see cref="UsageApplied"/> is noted, for <see cref="UsageBatchProcessor.WriteNow"/>.</param>
    public AccountAnswers(IActorRefProvider provider, SemaphoreSlim window, TimeSpan timeout, bool traced, CancellationToken ct, ConcurrentDictionary<string, bool> mayHoldUnwritten)
    {
        _mayHoldUnwritten = mayHoldUnwritten;
        (Provider, _window, _timeout) = (provider, window, timeout);
        _spans = traced ? new Dictionary<string, Activity>(StringComparer.Ordinal) : null;
        Path = provider.TempPath();
        provider.RegisterTempActor(this, Path);
        // A quarter of the timeout between looks: a silent batch fails between one and 1.25 timeouts after its last answer.
        var look = TimeSpan.FromTicks(Math.Max(timeout.Ticks / 4, TimeSpan.TicksPerMillisecond));
        _watch = new Timer(_ => Watch(), null, look, look);
        _stopping = ct.Register(() => Fail(new OperationCanceledException(ct)));
    }

    public override ActorPath Path { get; }

    public override IActorRefProvider Provider { get; }

    /// <summary>Cancelled once the batch failed (the consumer's stop included), so whoever waits for a place in the window stops waiting.</summary>
    public CancellationToken Failed => _failed.Token;

    /// <summary>Waits for a place in the shared window for the next account; cancelled once the batch failed.</summary>
    public Task PlaceAsync() => _window.WaitAsync(_failed.Token);

    /// <summary>The sums once every account's part is durable; an <see cref="AskTimeoutException"/> or a cancellation otherwise.</summary>
    public Task<AnswerTotals> Task => _done.Task;

    /// <summary>Done once every account applied its part (its balance reflects it); fails as <see cref="Task"/> does.</summary>
    public Task Applied => _applied.Task;

    /// <summary>
    /// Counts an account as asked, in the place <see cref="PlaceAsync"/> gave it (before it is told: its
    /// answer may come at once), and starts its span when traced. False once the batch failed: the
    /// place is given back and the caller stops.
    /// </summary>
    /// <param name="traceParent">The span's <c>traceparent</c> for the account's persist, or null.</param>
    public bool Asking(string accountId, int records, ActivityContext? producer, out string? traceParent)
    {
        Activity? span = null;
        if (_spans is not null)
        {
            var batch = Activity.Current;
            span = IngestionTracing.StartAccount(accountId, records, producer);
            Activity.Current = batch; // the next account's span hangs off the batch, not off this one
        }
        lock (_gate)
        {
            if (!_finished)
            {
                _asked++;
                _lastProgress = Environment.TickCount64;
                if (span is not null) _spans![accountId] = span;
                traceParent = span?.Id;
                return true;
            }
        }
        _window.Release();
        span?.Dispose();
        traceParent = null;
        return false;
    }

    /// <summary>No more accounts will be asked: the batch is done when the last of those asked answers.</summary>
    public void AllAsked()
    {
        bool applied, done;
        lock (_gate)
        {
            _allAsked = true;
            applied = AllApplied();
            done = Finishing();
        }
        if (applied) _applied.TrySetResult();
        if (done) Succeed();
    }

    protected override void TellInternal(object message, IActorRef sender)
    {
        var answer = message as UsageAccepted;
        if (answer is null)
        {
            if (message is not UsageApplied ahead) return;
            _mayHoldUnwritten.TryAdd(ahead.AccountId, true);
        }
        Activity? span = null;
        bool applied, done;
        lock (_gate)
        {
            if (_finished) return; // the batch failed already and freed this account's place
            _lastProgress = Environment.TickCount64;
            if (answer is null || !answer.Deferred) _appliedCount++;
            if (answer is not null)
            {
                _answered++;
                _accepted += answer.Accepted;
                _duplicates += answer.Duplicates;
                _redelivered += answer.Redelivered;
                _spans?.Remove(answer.AccountId, out span);
            }
            applied = AllApplied();
            done = Finishing();
        }
        // The account's first answer frees its place: a part written behind holds none while it waits.
        if (answer is null || !answer.Deferred) _window.Release();
        span?.Dispose();
        if (applied) _applied.TrySetResult();
        if (done) Succeed();
    }

    private void Watch()
    {
        int owing;
        lock (_gate)
            owing = !_finished && Environment.TickCount64 - _lastProgress >= _timeout.TotalMilliseconds ? _asked - _answered : 0;
        if (owing > 0) Fail(new AskTimeoutException($"{owing} accounts did not answer within {_timeout}"));
    }

    /// <summary>Under the lock: whether every account asked has now applied its part, told once.</summary>
    private bool AllApplied()
    {
        if (_allApplied || _finished || !_allAsked || _appliedCount != _asked) return false;
        _allApplied = true;
        return true;
    }

    /// <summary>Under the lock: whether every account asked has answered, and if so the batch is now finished.</summary>
    private bool Finishing()
    {
        if (_finished || !_allAsked || _answered != _asked) return false;
        _finished = true;
        return true;
    }

    private void Succeed()
    {
        Release();
        _done.TrySetResult(new AnswerTotals(_accepted, _duplicates, _redelivered));
    }

    /// <summary>Ends the batch with the failure, unless it ended already; frees the places of those still owing an answer.</summary>
    public void Fail(Exception failure)
    {
        int owing;
        Activity[] open;
        lock (_gate)
        {
            if (_finished) return;
            _finished = true;
            owing = _asked - _appliedCount; // the places still held
            open = _spans is { Count: > 0 } ? [.. _spans.Values] : [];
            _spans?.Clear();
        }
        Release();
        _failed.Cancel();
        if (owing > 0) _window.Release(owing);
        foreach (var span in open)
        {
            span.Failed(failure);
            span.Dispose();
        }
        if (failure is OperationCanceledException cancelled)
        {
            _applied.TrySetCanceled(cancelled.CancellationToken);
            _done.TrySetCanceled(cancelled.CancellationToken);
        }
        else
        {
            _applied.TrySetException(failure);
            _done.TrySetException(failure);
        }
    }

    private void Release()
    {
        _watch.Dispose();
        _stopping.Dispose();
        Provider.UnregisterTempActor(Path);
    }
}
