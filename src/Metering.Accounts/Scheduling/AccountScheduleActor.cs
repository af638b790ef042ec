using Akka.Actor;
using Akka.Persistence;
using Metering.Accounts.Messages;

namespace Metering.Accounts.Scheduling;

/// <summary>
/// The durable due-date schedule: one cluster singleton that knows each account's next renewal or
/// reminder and wakes the account when it comes, so renewals happen on time for accounts that
/// are passivated or whose node restarted. Accounts report their next due moment after every
/// change; the schedule is journaled, so it survives restarts and moves with the singleton.
/// </summary>
public sealed class AccountScheduleActor : ReceivePersistentActor, IWithTimers
{
    public const string Id = "account-schedule";
    private const int SnapshotEvery = 500;

    private readonly Dictionary<string, DateTimeOffset> _due = new(StringComparer.Ordinal);
    /// <summary>When each due account was last woken: not again before <c>_tick</c> has passed.</summary>
    private readonly Dictionary<string, DateTimeOffset> _woken = new(StringComparer.Ordinal);
    private readonly IActorRef _accounts;
    private readonly TimeProvider _time;
    private readonly TimeSpan _tick;

    public AccountScheduleActor(IActorRef accounts, TimeProvider time, TimeSpan tick)
    {
        _accounts = accounts;
        _time = time;
        _tick = tick;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is AccountScheduleSnapshot snapshot)
                foreach (var (account, due) in snapshot.Due) _due[account] = due;
        });
        Recover<AccountScheduled>(Apply);
        Recover<RecoveryCompleted>(_ => Timers.StartPeriodicTimer("tick", Tick.Instance, TimeSpan.Zero, _tick));

        Command<ScheduleAccount>(m =>
        {
            if (_due.TryGetValue(m.AccountId, out var current) ? current == m.DueAt : m.DueAt is null) return;
            Persist(new AccountScheduled(m.AccountId, m.DueAt), e =>
            {
                Apply(e);
                if (LastSequenceNr % SnapshotEvery == 0) SaveSnapshot(new AccountScheduleSnapshot(new Dictionary<string, DateTimeOffset>(_due)));
            });
        });
        Command<Tick>(_ => WakeDue());
        Command<Stop>(_ => Context.Stop(Self));
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(_ => { });
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(_ => { });
    }

    public override string PersistenceId => Id;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props GetProps(IActorRef accounts, TimeProvider time, TimeSpan tick) =>
        Props.Create(() => new AccountScheduleActor(accounts, time, tick));

    private void Apply(AccountScheduled e)
    {
        if (e.DueAt is { } due) _due[e.AccountId] = due;
        else _due.Remove(e.AccountId);
        _woken.Remove(e.AccountId);
    }

    private void WakeDue()
    {
        var now = _time.GetUtcNow();
        foreach (var (account, due) in _due)
        {
            if (due > now || (_woken.TryGetValue(account, out var at) && now - at < _tick)) continue;
            _woken[account] = now;
            _accounts.Tell(new WakeAccount(account));
        }
    }

    /// <summary>
    /// Termination message for the singleton hand-over: unlike a PoisonPill it waits behind the
    /// schedule changes stashed during a journal write, so none is lost when the singleton moves.
    /// Local only, never serialized.
    /// </summary>
    public sealed class Stop : INoSerializationVerificationNeeded
    {
        public static readonly Stop Instance = new();

        private Stop()
        {
        }
    }

    private sealed class Tick : INoSerializationVerificationNeeded
    {
        public static readonly Tick Instance = new();
    }
}
