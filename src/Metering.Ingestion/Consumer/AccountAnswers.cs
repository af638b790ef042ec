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
/// Each answer frees one place of the shared window. The batch fails when no account has been asked
/// or has answered for the ask timeout while some still owe an answer, or when the consumer stops;
/// the places of the accounts that never answered are then freed at once, and late answers ignored.
/// </para>
/// </summary>
internal sealed class AccountAnswers : MinimalActorRef
{
    private readonly SemaphoreSlim _window;
    private readonly TimeSpan _timeout;
    private readonly TaskCompletionSource<AnswerTotals> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _failed = new();
    /// <summary>The open span of each account asked and not answered yet, when the batch is traced.</summary>
    private readonly Dictionary<string, Activity>? _spans;
    private readonly Lock _gate = new();
    private readonly Timer _watch;
    private readonly CancellationTokenRegistration _stopping;
    private int _asked, _answered, _accepted, _duplicates, _redelivered;
    private bool _allAsked, _finished;
    private long _lastProgress = Environment.TickCount64;

    public AccountAnswers(IActorRefProvider provider, SemaphoreSlim window, TimeSpan timeout, bool traced, CancellationToken ct)
    {
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

    /// <summary>The sums once every account answered; an <see cref="AskTimeoutException"/> or a cancellation otherwise.</summary>
    public Task<AnswerTotals> Task => _done.Task;

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
        bool done;
        lock (_gate)
        {
            _allAsked = true;
            done = Finishing();
        }
        if (done) Succeed();
    }

    protected override void TellInternal(object message, IActorRef sender)
    {
        if (message is not UsageAccepted answer) return;
        Activity? span = null;
        bool done;
        lock (_gate)
        {
            if (_finished) return; // the batch failed already and freed this account's place
            _answered++;
            _accepted += answer.Accepted;
            _duplicates += answer.Duplicates;
            _redelivered += answer.Redelivered;
            _lastProgress = Environment.TickCount64;
            _spans?.Remove(answer.AccountId, out span);
            done = Finishing();
        }
        _window.Release();
        span?.Dispose();
        if (done) Succeed();
    }

    private void Watch()
    {
        int owing;
        lock (_gate)
            owing = !_finished && Environment.TickCount64 - _lastProgress >= _timeout.TotalMilliseconds ? _asked - _answered : 0;
        if (owing > 0) Fail(new AskTimeoutException($"{owing} accounts did not answer within {_timeout}"));
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
            owing = _asked - _answered;
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
        if (failure is OperationCanceledException cancelled) _done.TrySetCanceled(cancelled.CancellationToken);
        else _done.TrySetException(failure);
    }

    private void Release()
    {
        _watch.Dispose();
        _stopping.Dispose();
        Provider.UnregisterTempActor(Path);
    }
}
