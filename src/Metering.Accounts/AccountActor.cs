using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Metering.Accounts.Messages;
using Metering.Domain.Accounts;
using Metering.Accounts.Scheduling;
using Metering.Domain.Notifications;
using Metering.Domain.Payments;

namespace Metering.Accounts;

/// <summary>
/// One account, sharded across the cluster and persisted as <c>account-{id}</c>. Thin on purpose:
/// decide with the domain, persist, apply, reply. Replies come only after the journal write, which
/// is what lets the Kafka consumer commit its offsets. Card charges are persisted as requested
/// before the gateway is called and resumed with the same idempotency key after a crash, so a card
/// is never charged twice.
/// </summary>
public sealed class AccountActor : PersistentActor, IWithTimers
{
    private static readonly TimeSpan GatewayRetry = TimeSpan.FromSeconds(2);

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private static readonly TimeSpan NotificationRetry = TimeSpan.FromSeconds(30);

    private readonly TimeProvider _time;
    private readonly AccountsOptions _options;
    private readonly IPaymentGateway _gateway;
    private readonly INotificationSink _notifications;
    private readonly AccountTelemetry _telemetry;
    private readonly IActorRef _schedule;
    /// <summary>Notifications handed to the sink and not yet answered: sent once, not again while in flight.</summary>
    private readonly HashSet<string> _sending = new(StringComparer.Ordinal);
    /// <summary>The due moment last told to the schedule, so it is told only of changes.</summary>
    private DateTimeOffset? _scheduledDue;
    /// <summary>Who waits for which purchase to finish (add-funds requests, retries included).</summary>
    private readonly Dictionary<string, List<IActorRef>> _fundsWaiters = new(StringComparer.Ordinal);
    private Account _account;
    /// <summary>
    /// Usage applied and answered as applied but not in the journal yet (<see cref="AccountsOptions.WriteBehind"/>),
    /// with the answers owed once it is: the account runs ahead of its journal by at most that long.
    /// </summary>
    private readonly List<IAccountEvent> _unwritten = [];
    private readonly List<(IActorRef To, UsageAccepted Answer, IDisposable? Span)> _owed = [];
    /// <summary>Writes of applied usage in flight that let the account go on meanwhile.</summary>
    private int _writingBehind;
    /// <summary>A snapshot fell due while usage ran ahead of the journal: taken once the two match.</summary>
    private bool _snapshotDue;
    /// <summary>A stop waits in the stash for the writes behind in flight.</summary>
    private bool _stopWaits;
    /// <summary>When this incarnation started, for the recovery time.</summary>
    private readonly long _startedAt = Stopwatch.GetTimestamp();

    public AccountActor(string accountId, AccountsOptions options, AccountServices services, IActorRef schedule)
    {
        _time = services.Time;
        _options = options;
        _gateway = services.Gateway;
        _notifications = services.Notifications;
        _telemetry = services.Telemetry;
        _schedule = schedule;
        _account = new Account(accountId, options.Settings);
        PersistenceId = PersistenceIdFor(accountId);
    }

    public override string PersistenceId { get; }

    // Handlers in a switch rather than ReceivePersistentActor's registrations: those built two dozen
    // delegates and a compiled matcher for every account started, ~4 KB and most of the 0.25 ms of
    // CPU its creation took (docs/benchmarks.md, session 14).
    protected override bool ReceiveRecover(object message)
    {
        switch (message)
        {
            case SnapshotOffer offer:
                if (offer.Snapshot is AccountSnapshot snapshot) _account = Account.FromSnapshot(snapshot, _options.Settings);
                return true;
            case IAccountEvent e:
                _account.Apply(e);
                return true;
            case RecoveryCompleted:
                ResumeAfterRecovery();
                return true;
            default:
                return false;
        }
    }

    protected override bool ReceiveCommand(object message)
    {
        switch (message)
        {
            case PaymentAnswered m:
                HandlePaymentAnswered(m);
                return true;
            case PaymentUnanswered m:
                _log.Warning("Gateway did not answer for {0} ({1}); retrying with the same key", m.PurchaseId, m.Reason);
                Timers.StartSingleTimer($"charge-{m.PurchaseId}", new ResumeCharge(m.PurchaseId), GatewayRetry);
                return true;
            case ResumeCharge m:
                if (_account.FindPurchase(m.PurchaseId) is { Status: PurchaseStatus.Pending } purchase) Charge(purchase);
                return true;
            case RetryRechargeDue:
                // A timer can fire before the account's clock reaches the due moment (the clock was set
                // back, or a test's clock lags): wait again rather than drop the retry.
                if (_account.RechargeRetryDueAt is { } due && due > Now)
                    ScheduleRechargeRetry();
                else
                    Execute(_account.Decide(new RetryRecharge(Now)));
                return true;
            case ClockDue:
                ScheduleClock();
                return true;
            case NotificationSent m:
                _sending.Remove(m.NotificationId);
                Write([new NotificationDelivered(m.NotificationId, m.Failure, Now)], AfterPersist);
                return true;
            case NotificationUnsent m:
                _log.Warning("Notification {0} could not be sent ({1}); trying again in {2}", m.NotificationId, m.Reason, NotificationRetry);
                Timers.StartSingleTimer($"notify-{m.NotificationId}", new ResendNotification(m.NotificationId), NotificationRetry);
                return true;
            case ResendNotification m:
                _sending.Remove(m.NotificationId);
                SendNotifications();
                return true;
            case WriteUnwrittenDue or WriteUsageNow:
                WriteUnwritten(behind: true);
                return true;
            case StopAccount:
                // After the commands that came before it, even those stashed while a write was in flight;
                // usage still ahead of the journal is written first, and the stop comes back after it.
                if (_writingBehind > 0)
                {
                    _stopWaits = true;
                    Stash.Stash();
                }
                else if (_unwritten.Count > 0)
                {
                    WriteUnwritten(behind: false);
                    Self.Tell(StopAccount.Instance);
                }
                else
                    Context.Stop(Self);
                return true;
            case SaveSnapshotSuccess s:
                DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1));
                return true;
            case SaveSnapshotFailure f:
                _log.Warning(f.Cause, "Snapshot of {0} failed; the journal still holds every event", PersistenceId);
                return true;
            case DeleteSnapshotsSuccess:
                return true;
            case DeleteSnapshotsFailure f:
                _log.Warning(f.Cause, "Old snapshots of {0} were not deleted", PersistenceId);
                return true;
            case IAccountMessage:
                return CaughtUpFirst() || ReceiveFromOutside(message);
            default:
                return false;
        }
    }

    /// <summary>
    /// Lets a message from outside wait until time has caught up: renewals, invoices and reminders that
    /// fell due are persisted first and the message is handled after them, so every command decides
    /// and every query answers on the account as of now. True when the message was stashed for that.
    /// </summary>
    private bool CaughtUpFirst()
    {
        if (_account.NextDueAt is not { } due || due > Now || _account.Decide(new AdvanceClock(Now)) is not { Events.Count: > 0 } catchUp)
            return false;
        Stash.Stash();
        PersistAllThen(catchUp.Events, Stash.UnstashAll);
        return true;
    }

    private bool ReceiveFromOutside(object message)
    {
        switch (message)
        {
            case RecordAccountUsage m:
                var span = AccountTelemetry.StartPersist(m);
                var decision = _account.Decide(new RecordUsage(m.Records, Now, m.Committed));
                var o = decision.Outcome;
                var accepted = new UsageAccepted(m.AccountId, o.Accepted, o.Duplicates, o.Redelivered);
                if (_options.WriteBehind > TimeSpan.Zero && decision.Events is [UsageRecorded usage])
                    ApplyAhead(usage, accepted, span);
                else
                    PersistThenReply(decision.Events, accepted, Sender, span);
                return true;
            case SubscribeAccount m:
                Execute(_account.Decide(new Subscribe(m.Plan, m.Team, Now)));
                return true;
            case CancelAccountSubscription m:
                Execute(_account.Decide(new CancelSubscription(m.SubscriptionId, m.AtPeriodEnd, Now)));
                return true;
            case UpdateAccountPreferences m:
                Execute(_account.Decide(new UpdatePreferences(m.Preferences, Now)));
                return true;
            case AddAccountPaymentMethod m:
                Execute(_account.Decide(new AddPaymentMethod(m.Card, m.MakeDefault, Now)));
                return true;
            case RemoveAccountPaymentMethod m:
                Execute(_account.Decide(new RemovePaymentMethod(m.PaymentMethodId, Now)));
                return true;
            case SetAccountDefaultPaymentMethod m:
                Execute(_account.Decide(new SetDefaultPaymentMethod(m.PaymentMethodId, Now)));
                return true;
            case ConfigureAccountAutoRecharge m:
                Execute(_account.Decide(new ConfigureAutoRecharge(m.Settings, Now)));
                return true;
            case VoidAccountInvoice m:
                Execute(_account.Decide(new VoidInvoice(m.InvoiceId, Now)));
                return true;
            case MarkAccountInvoiceUncollectible m:
                Execute(_account.Decide(new MarkInvoiceUncollectible(m.InvoiceId, Now)));
                return true;
            case AddAccountFunds m:
                HandleAddFunds(m);
                return true;
            case WakeAccount:
                ScheduleClock();
                return true;
            case GetAccountOverview:
                Sender.Tell(Overview());
                return true;
            case GetAccountSubscriptions m:
                Sender.Tell(new AccountSubscriptions(m.AccountId, _account.Subscriptions.Select(s => s.ToSnapshot()).ToArray()));
                return true;
            case GetAccountPaymentMethods m:
                Sender.Tell(new AccountPaymentMethods(m.AccountId, _account.PaymentMethods.ToArray(), _account.DefaultPaymentMethodId));
                return true;
            case GetAccountInvoices m:
                Sender.Tell(new AccountInvoices(m.AccountId, _account.Invoices.ToArray()));
                return true;
            case GetAccountPreferences m:
                Sender.Tell(new AccountPreferences(m.AccountId, _account.Preferences));
                return true;
            default:
                return false;
        }
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected override void PostStop()
    {
        // Stopped or failed with usage not written: its batches are never answered as durable, so
        // the consumer reads them again from its committed offsets.
        foreach (var (_, _, span) in _owed) span?.Dispose();
        _telemetry.Passivated();
        base.PostStop();
    }

    private DateTimeOffset Now => _time.GetUtcNow();

    public static string PersistenceIdFor(string accountId) => $"account-{accountId}";

    /// <summary>The account id back from <see cref="PersistenceIdFor"/>.</summary>
    public static string AccountIdOf(string persistenceId) => persistenceId["account-".Length..];

    /// <param name="schedule">The due-date schedule (<see cref="Scheduling.AccountScheduleActor"/>) told of this account's next due moment.</param>
    public static Props GetProps(string accountId, AccountsOptions options, AccountServices services, IActorRef schedule) =>
        // The mailbox named (the deque-based one persistent actors require, which Akka picks anyway):
        // with none named, Akka read the stash capacity from the configuration for every new account.
        Props.CreateBy(new Producer(accountId, options, services, schedule)).WithMailbox(Mailbox);

    private const string Mailbox = "akka.actor.mailbox.unbounded-deque-based";

    /// <summary>
    /// Makes the actor with <c>new</c>: <c>Props.Create(() => new …)</c> built an expression tree for
    /// every account started and invoked the constructor by reflection.
    /// </summary>
    private sealed class Producer(string accountId, AccountsOptions options, AccountServices services, IActorRef schedule) : IIndirectActorProducer
    {
        public Type ActorType => typeof(AccountActor);

        public ActorBase Produce() => new AccountActor(accountId, options, services, schedule);

        public void Release(ActorBase actor)
        {
        }
    }

    private void Execute(Decision<Outcome> decision) =>
        PersistThenReply(decision.Events, new AccountCommandResult(_account.Id, decision.Outcome), Sender);

    /// <summary>Persists the events (if any), applies each after its write, then answers and ends the span.</summary>
    private void PersistThenReply(IReadOnlyList<IAccountEvent> events, object reply, IActorRef replyTo, IDisposable? span = null)
    {
        if (events.Count == 0)
        {
            replyTo.Tell(reply);
            span?.Dispose();
            return;
        }
        PersistAllThen(events, () =>
        {
            replyTo.Tell(reply);
            span?.Dispose();
        });
    }

    /// <summary>
    /// Persists the events, applies each after its write, and runs <paramref name="then"/> in the last
    /// one's handler. Not DeferAsync: commands wait for persist handlers but not for deferred ones, so a
    /// hand-off's <see cref="StopAccount"/> could stop the account before a deferred reply went out; and
    /// a DeferAsync with nothing persisted sends the SQL journal an empty write, which it fails, and
    /// enough failures open its circuit breaker for every account on the node.
    /// </summary>
    private void PersistAllThen(IReadOnlyList<IAccountEvent> events, Action then)
    {
        var left = events.Count;
        Write(events, e =>
        {
            AfterPersist(e);
            if (--left == 0) then();
        });
    }

    /// <summary>
    /// Every write of the account goes through here: usage applied ahead of the journal is written
    /// first, so the journal keeps the order in which the account changed and anything with an effect
    /// outside (a charge, a notification, an answer) is durable after the usage that led to it.
    /// </summary>
    private void Write(IReadOnlyList<IAccountEvent> events, Action<IAccountEvent> handler)
    {
        WriteUnwritten(behind: false);
        PersistAll(events, handler);
    }

    /// <summary>
    /// Write-behind: applies a usage batch now and answers that it is applied (the balance reflects it);
    /// the journal write, and the answer that lets the consumer commit its offsets, follow within
    /// <see cref="AccountsOptions.WriteBehind"/>. A crash before then loses only what Kafka still holds
    /// uncommitted, which is read again in the same order. A batch that raised a notification is
    /// written at once, since the notification goes out only once the usage behind it is durable.
    /// </summary>
    private void ApplyAhead(UsageRecorded usage, UsageAccepted accepted, IDisposable? span)
    {
        var notifications = _account.Notifications.Count;
        _account.Apply(usage);
        _unwritten.Add(usage);
        _owed.Add((Sender, accepted with { Deferred = true }, span));
        Sender.Tell(new UsageApplied(accepted.AccountId));
        if (_account.Notifications.Count != notifications)
            WriteUnwritten(behind: false);
        else if (!Timers.IsTimerActive(WriteBehindTimer))
            // Somewhere in the second half of the interval: accounts that started together would
            // otherwise all write together, every interval, and stall the journal in waves.
            Timers.StartSingleTimer(WriteBehindTimer, WriteUnwrittenDue.Instance, _options.WriteBehind * (0.5 + Random.Shared.NextDouble() / 2));
    }

    /// <summary>
    /// Writes the usage applied ahead of the journal, then pays the answers owed for it. Behind: the
    /// account goes on applying usage meanwhile (Akka keeps the order of writes); otherwise messages
    /// wait for the write, as before a command's own write.
    /// </summary>
    private void WriteUnwritten(bool behind)
    {
        if (_unwritten.Count == 0) return;
        Timers.Cancel(WriteBehindTimer);
        var events = _unwritten.ToArray();
        var owed = _owed.ToArray();
        _unwritten.Clear();
        _owed.Clear();
        var left = events.Length;
        Action<IAccountEvent> written = _ =>
        {
            if (--left > 0) return;
            foreach (var (to, answer, span) in owed)
            {
                to.Tell(answer);
                span?.Dispose();
            }
            SendNotifications();
            if (behind) _writingBehind--;
            SnapshotIfDue(events.Length);
            if (_stopWaits && _writingBehind == 0)
            {
                _stopWaits = false;
                Stash.UnstashAll();
            }
        };
        if (behind)
        {
            _writingBehind++;
            PersistAllAsync(events, written);
        }
        else
            PersistAll(events, written);
    }

    private void AfterPersist(IAccountEvent e)
    {
        _account.Apply(e);
        SendNotifications();
        TellSchedule();
        _telemetry.Persisted(_account, e);
        switch (e)
        {
            case PaymentRequested requested:
                Charge(_account.FindPurchase(requested.PurchaseId)!);
                break;
            case PaymentSucceeded or PaymentFailed:
                var purchaseId = e is PaymentSucceeded s ? s.PurchaseId : ((PaymentFailed)e).PurchaseId;
                NotifyFundsWaiters(_account.FindPurchase(purchaseId)!);
                ScheduleRechargeRetry();
                break;
        }
        SnapshotIfDue(1);
    }

    /// <summary>
    /// A snapshot every <see cref="AccountsOptions.SnapshotEvery"/> events, once the last
    /// <paramref name="written"/> events crossed a multiple of it. Usage written behind is applied
    /// before it is written, so the state matches the journal (and a snapshot may be taken) only when
    /// nothing newer is applied and unwritten or still being written; until then the snapshot waits.
    /// </summary>
    private void SnapshotIfDue(int written)
    {
        _snapshotDue |= LastSequenceNr / _options.SnapshotEvery != (LastSequenceNr - written) / _options.SnapshotEvery;
        if (!_snapshotDue || _unwritten.Count > 0 || _writingBehind > 0) return;
        _snapshotDue = false;
        SaveSnapshot(_account.ToSnapshot());
    }

    private void HandleAddFunds(AddAccountFunds m)
    {
        var decision = _account.Decide(new AddFunds(m.Amount, m.PaymentMethodId, m.IdempotencyKey, Now));
        if (decision.Outcome.Refusal is { } refusal)
        {
            Sender.Tell(new FundsResult(m.AccountId, null, refusal));
            return;
        }
        var purchaseId = decision.Outcome.Id!;
        if (_account.FindPurchase(purchaseId) is { Status: not PurchaseStatus.Pending } settled)
        {
            Sender.Tell(new FundsResult(m.AccountId, settled, null));
            return;
        }
        if (!_fundsWaiters.TryGetValue(purchaseId, out var waiters))
            _fundsWaiters[purchaseId] = waiters = [];
        waiters.Add(Sender);
        if (decision.Events.Count > 0) Write(decision.Events, AfterPersist);
    }

    private void NotifyFundsWaiters(Purchase purchase)
    {
        if (!_fundsWaiters.Remove(purchase.Id, out var waiters)) return;
        foreach (var waiter in waiters) waiter.Tell(new FundsResult(_account.Id, purchase, null));
    }

    /// <summary>Calls the gateway outside the actor's thread; the answer comes back as a message.</summary>
    private void Charge(Purchase purchase)
    {
        _gateway.ChargeAsync(purchase.GatewayKey, purchase.Token, purchase.Amount, purchase.Currency, CancellationToken.None)
            .PipeTo(Self,
                success: result => new PaymentAnswered(purchase.Id, result),
                failure: ex => new PaymentUnanswered(purchase.Id, ex.GetType().Name));
    }

    private void HandlePaymentAnswered(PaymentAnswered m)
    {
        var r = m.Result;
        var decision = _account.Decide(new RecordPaymentResult(m.PurchaseId, r.Succeeded, r.ChargeId, r.FailureCode, r.FailureMessage, Now));
        if (decision.Events.Count > 0) Write(decision.Events, AfterPersist);
    }

    private void ScheduleRechargeRetry()
    {
        if (_account.RechargeRetryDueAt is { } due)
            Timers.StartSingleTimer("recharge-retry", RetryRechargeDue.Instance, Max(due - Now, TimeSpan.Zero));
    }

    /// <summary>After a crash or passivation: finish every charge that was requested, with its original key.</summary>
    private void ResumeAfterRecovery()
    {
        _telemetry.Recovered(Stopwatch.GetElapsedTime(_startedAt));
        foreach (var purchase in _account.PendingPurchases) Charge(purchase);
        ScheduleRechargeRetry();
        ScheduleClock();
        SendNotifications();
        TellSchedule();
    }

    /// <summary>Sends what was not sent yet, each notification once; its delivery is then persisted.</summary>
    private void SendNotifications()
    {
        foreach (var notification in _account.UndeliveredNotifications)
        {
            if (!_sending.Add(notification.Id)) continue;
            var id = notification.Id;
            _notifications.DeliverAsync(_account.Id, notification, _account.Preferences.Notifications, CancellationToken.None)
                .PipeTo(Self, success: failure => new NotificationSent(id, failure), failure: ex => new NotificationUnsent(id, ex.GetType().Name));
        }
    }

    /// <summary>Keeps the durable schedule told of the next renewal or reminder, so it wakes this account even when passivated.</summary>
    private void TellSchedule()
    {
        var due = _account.NextDueAt;
        if (due == _scheduledDue) return;
        _scheduledDue = due;
        _schedule.Tell(new ScheduleAccount(_account.Id, due));
    }

    /// <summary>Catches up with time now, and wakes again at the next due moment while in memory.</summary>
    private void ScheduleClock()
    {
        var decision = _account.Decide(new AdvanceClock(Now));
        if (decision.Events.Count > 0) Write(decision.Events, AfterPersist);
        if (_account.NextDueAt is { } due)
            Timers.StartSingleTimer("clock", ClockDue.Instance, Max(Min(due - Now, MaxTimer), TimeSpan.FromMilliseconds(10)));
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Timers re-check at least this often, so a clock that jumps (tests, NTP) is noticed.</summary>
    private static readonly TimeSpan MaxTimer = TimeSpan.FromMinutes(1);

    private AccountOverview Overview() => new(
        _account.Id,
        _account.Currency,
        _account.Balance,
        _account.PendingBalance,
        _account.Cycle?.Start,
        _account.Cycle?.End,
        _account.Usage.ToDictionary(),
        _account.EventsProcessed,
        _account.DuplicatesDropped,
        _account.LastUsageAt,
        _account.AutoRecharge,
        _account.AutoRechargeSuspendedReason,
        _account.ActiveSubscriptions.Select(s => s.ToSnapshot()).ToArray(),
        _account.LastPurchase,
        Now);

    // Local messages: never leave this actor, so never serialized.
    private sealed record PaymentAnswered(string PurchaseId, ChargeResult Result) : INoSerializationVerificationNeeded;
    private sealed record PaymentUnanswered(string PurchaseId, string Reason) : INoSerializationVerificationNeeded;
    private sealed record ResumeCharge(string PurchaseId) : INoSerializationVerificationNeeded;
    private sealed class RetryRechargeDue : INoSerializationVerificationNeeded
    {
        public static readonly RetryRechargeDue Instance = new();
    }

    private sealed record NotificationSent(string NotificationId, string? Failure) : INoSerializationVerificationNeeded;
    private sealed record NotificationUnsent(string NotificationId, string Reason) : INoSerializationVerificationNeeded;
    private sealed record ResendNotification(string NotificationId) : INoSerializationVerificationNeeded;

    private const string WriteBehindTimer = "write-behind";

    private sealed class WriteUnwrittenDue : INoSerializationVerificationNeeded
    {
        public static readonly WriteUnwrittenDue Instance = new();
    }

    private sealed class ClockDue : INoSerializationVerificationNeeded
    {
        public static readonly ClockDue Instance = new();
    }
}
