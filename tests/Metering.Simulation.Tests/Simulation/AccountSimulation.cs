using System.Globalization;
using System.Text.Json;
using Metering.Domain.Accounts;
using Metering.Domain.Payments;
using Metering.Domain.Plans;
using Metering.Domain.Pricing;
using Metering.Domain.Usage;

namespace Metering.Simulation.Tests.Simulation;

/// <summary>Bugs the simulator can plant in its own driver, to show that the checks catch them.</summary>
[Flags]
public enum InjectedBug
{
    None = 0,
    /// <summary>The consumer commits a batch's offsets before the account has persisted it.</summary>
    CommitBeforePersist = 1,
    /// <summary>After a restart a pending charge is resumed under a new gateway key instead of its persisted one.</summary>
    ResumeWithNewKey = 2,
}

public sealed record SimulationOptions(int Steps = 200, InjectedBug Bugs = InjectedBug.None);

/// <summary>What one run did and whether an invariant broke.</summary>
public sealed record SimulationResult(ulong Seed, ulong TraceHash, SimulationStats Stats, string? Violation, IReadOnlyList<string> TraceTail)
{
    public string Replay => $"METERING_SIM_SEED={Seed} dotnet test tests/Metering.Simulation.Tests";

    public string Describe() =>
        $"seed {Seed}: {Violation}{Environment.NewLine}replay: {Replay}{Environment.NewLine}last steps:{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", TraceTail)}";
}

/// <summary>
/// Deterministic simulation of one account in its world, in the spirit of FoundationDB's and
/// TigerBeetle's simulators. The account is the real domain <see cref="Account"/>, driven the way
/// <c>AccountActor</c> drives it: catch up with the clock before every outside message, decide,
/// append to the journal, apply, then act (call the gateway after a <see cref="PaymentRequested"/>
/// is written, resume pending charges after a restart, retry recharges on their backoff). Around it
/// a seeded world misbehaves: Kafka redelivers after consumer restarts, producers send duplicates at
/// new offsets, partitions interleave, the process crashes before or after a journal write or before
/// the offset commit (the account is rebuilt from the journal, sometimes from a snapshot plus the
/// tail), the gateway loses requests and answers, answers late (even across a restart) and declines,
/// clients retry added funds with the same idempotency key, plans are taken and canceled while the
/// clock jumps months ahead. After every step the invariants in <see cref="CheckInvariants"/> must
/// hold; at the end the world is let settle and everything sent must be accounted for.
/// </summary>
public sealed class AccountSimulation
{
    public const string AccountId = "acct-sim";
    public const int Partitions = 3;

    /// <summary>The gateway answers within this or the actor's call fails (a lost request or answer).</summary>
    private static readonly TimeSpan ChargeTimeout = TimeSpan.FromSeconds(10);
    /// <summary>As <c>AccountActor.GatewayRetry</c>: an unanswered charge is tried again with its key after this.</summary>
    private static readonly TimeSpan GatewayRetry = TimeSpan.FromSeconds(2);
    /// <summary>
    /// The dedupe window counts processing time, so a producer duplicate processed more than a
    /// window after its original is counted again by design. The simulated consumer therefore never
    /// falls more than this behind before the clock moves on (well inside the 24 h window).
    /// </summary>
    private static readonly TimeSpan MaxConsumerLag = TimeSpan.FromHours(12);

    private static readonly string[] Meters = ["lead", "call", "email"];
    private static readonly string[] Sources = ["crm/dialer", "crm/mailer", "crm/leads"];
    private static readonly JsonSerializerOptions FailureJson = new(JsonSerializerDefaults.Web);

    private readonly SimulationOptions _options;
    private readonly SimRandom _random;
    private readonly SimKafka _kafka = new(Partitions);
    private readonly SimGateway _gateway;
    private readonly AccountSettings _settings;
    private readonly int _snapshotEvery;
    private readonly List<Plan> _plans;

    // The node: the live account, its journal and latest snapshot, its mailbox and timers.
    private readonly List<IAccountEvent> _journal = [];
    private (int SequenceNr, AccountSnapshot Snapshot)? _snapshot;
    private readonly List<Message> _mailbox = [];
    private Account _account;
    private int _incarnation;
    /// <summary>Events written whose apply a crash cut off: the live state then lags the journal.</summary>
    private int _unapplied;
    private DateTimeOffset _now;
    private DateTimeOffset _lastDrain;
    private bool _faults = true;

    // The model of what was sent, kept apart from the account.
    private readonly Dictionary<DedupeKey, UsageRecord> _produced = [];
    private readonly List<UsageRecord> _recent = [];
    private readonly Dictionary<string, decimal> _fundsKeys = new(StringComparer.Ordinal);
    private int _eventSeq;

    // What the journal says, summed as events are written.
    private readonly HashSet<DedupeKey> _counted = [];
    private readonly Dictionary<string, PaymentRequested> _requestedByKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PaymentRequested> _requestedByPurchase = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _purchaseByClientKey = new(StringComparer.Ordinal);
    private readonly HashSet<string> _settled = new(StringComparer.Ordinal);
    private decimal _credits;
    private decimal _charges;
    private readonly long[] _verifiedCommitted = new long[Partitions];
    private int _verifiedGatewayKeys;
    /// <summary>Invoices whose number was checked; a recovered account is checked again from the first.</summary>
    private int _verifiedInvoices;

    // The trace: a hash of every step, and the last few for a failure message.
    private ulong _hash = 14695981039346656037UL;
    private readonly Queue<TraceLine> _tail = new();
    private int _step;

    public SimulationStats Stats { get; } = new();

    public AccountSimulation(ulong seed, SimulationOptions? options = null)
    {
        Seed = seed;
        _options = options ?? new SimulationOptions();
        _random = new SimRandom(seed);
        _gateway = new SimGateway(_random);
        _settings = new AccountSettings(
            TimeSpan.FromHours(24), "USD",
            MaxRechargeAttempts: _random.Next(1, 4),
            RechargeRetryBackoff: TimeSpan.FromSeconds(_random.Next(5, 120)),
            RechargeDailyCap: _random.Next(1, 6));
        _snapshotEvery = _random.Next(3, 20);
        _plans = [.. DefaultPlans.All, RandomPlan(1), RandomPlan(2), RandomPlan(3)];
        _now = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddDays(_random.Next(0, 365)).AddSeconds(_random.Next(0, 86_400));
        _lastDrain = _now;
        _account = new Account(AccountId, _settings);
    }

    public ulong Seed { get; }

    public static SimulationResult Run(ulong seed, SimulationOptions? options = null) => new AccountSimulation(seed, options).Run();

    public SimulationResult Run()
    {
        string? violation = null;
        try
        {
            Guarded(() => External(() => Persist(_account.Decide(new AddPaymentMethod(Card("tok_ok"), true, _now)).Events)));
            for (_step = 1; _step <= _options.Steps; _step++)
            {
                var action = Step();
                Trace(action);
                CheckInvariants();
            }
            Settle();
            CheckSettled();
        }
        catch (SimulationViolation v)
        {
            violation = $"step {_step}: {v.Message}";
        }
        Stats.Steps = _step;
        return new SimulationResult(Seed, _hash, Stats, violation, _tail.Select(t => t.ToString()).ToArray());
    }

    // ------------------------------------------------------------------ the world's steps

    private string Step()
    {
        var roll = _random.Next(100);
        string action = roll switch
        {
            < 24 => "produce",
            < 48 => "consume",
            < 62 => "deliver",
            < 70 => "clock",
            < 72 => "jump",
            < 76 => "tick",
            < 82 => "funds",
            < 85 => "subscribe",
            < 86 => "cancel",
            < 88 => "auto-recharge",
            < 89 => "card",
            < 90 => "preferences",
            < 93 => "notifications",
            < 95 => "crash",
            _ => "rebalance",
        };
        Guarded(() =>
        {
            switch (action)
            {
                case "produce": Produce(); break;
                case "consume": Consume(); break;
                case "deliver": DeliverOne(); break;
                case "clock": MoveClock(_now + TimeSpan.FromSeconds(_random.Chance(0.2) ? _random.Next(60, 7_200) : _random.Next(1, 60))); break;
                case "jump":
                    Stats.ClockJumps++;
                    MoveClock(_now + TimeSpan.FromDays(_random.Next(1, 120)) + TimeSpan.FromSeconds(_random.Next(0, 86_400)));
                    break;
                case "tick": ScheduleClock(); break;
                case "funds": AddFunds(); break;
                case "subscribe": External(() => Persist(_account.Decide(new Subscribe(_random.Pick(_plans), _random.Chance(0.2) ? "sales" : null, _now)).Events)); break;
                case "cancel": Cancel(); break;
                case "auto-recharge": ConfigureAutoRecharge(); break;
                case "card": AddCard(); break;
                case "preferences": UpdatePreferences(); break;
                case "notifications": DeliverNotifications(); break;
                case "crash": Crash("crash"); break;
                default:
                    Stats.ConsumerRestarts++;
                    _kafka.Rewind();
                    break;
            }
        });
        return action;
    }

    /// <summary>A CRM emits usage; sometimes a producer retry sends an earlier event again at a new offset.</summary>
    private void Produce()
    {
        for (int i = 0, n = _random.Next(1, 6); i < n; i++)
        {
            // An account usually lives on one partition; another partitioner can spread it.
            var partition = _random.Chance(0.8) ? 0 : _random.Next(Partitions);
            if (_recent.Count > 0 && _random.Chance(0.1))
            {
                Stats.ProducerDuplicates++;
                _kafka.Produce(partition, _random.Pick(_recent));
                continue;
            }
            var quantity = _random.Chance(0.1) ? _random.Next(50, 400) : _random.Next(1, 20);
            var record = new UsageRecord(_random.Pick(Sources), $"e-{++_eventSeq}", _random.Pick(Meters), quantity, _now,
                _random.Chance(0.3) ? "sales" : null, null, default);
            _produced.Add(record.DedupeKey, record);
            _kafka.Produce(partition, record);
            Stats.UsageProduced++;
            if (_recent.Count == 20) _recent.RemoveAt(0);
            _recent.Add(record);
        }
    }

    /// <summary>One consumer batch: the account persists it, then (only then) the offsets are committed.</summary>
    private void Consume()
    {
        var batch = _kafka.Poll(_random, _random.Next(1, 40));
        if (batch.Count == 0) return;
        Stats.Batches++;
        if (_options.Bugs.HasFlag(InjectedBug.CommitBeforePersist)) _kafka.Commit(batch);
        External(() =>
        {
            var decision = _account.Decide(new RecordUsage(batch, _now, _kafka.CommittedPositions()));
            var o = decision.Outcome;
            if (o.Accepted + o.Duplicates + o.Redelivered != batch.Count)
                throw new SimulationViolation($"STATE: a batch of {batch.Count} was answered {o}");
            Stats.Redelivered += o.Redelivered;
            Stats.DuplicatesDropped += o.Duplicates;
            Persist(decision.Events);
        });
        MaybeCrash(0.02, "before the offset commit");
        _kafka.Commit(batch);
    }

    /// <summary>The consumer catches up completely (before the clock may move on, see <see cref="MaxConsumerLag"/>).</summary>
    private void Drain()
    {
        for (var guard = 0; !_kafka.CaughtUp || Enumerable.Range(0, Partitions).Any(p => _kafka.Committed(p) < _kafka.Log(p).Count); guard++)
        {
            if (guard > 10_000) throw new SimulationViolation("STUCK: the consumer cannot catch up");
            Guarded(Consume);
        }
        _lastDrain = _now;
        // A producer retries within seconds, not after the consumer caught up: no duplicate of an
        // event from before the drain, so original and duplicate are processed within one window.
        _recent.Clear();
    }

    private void MoveClock(DateTimeOffset to)
    {
        if (to - _lastDrain > MaxConsumerLag) Drain();
        _now = to;
    }

    private void AddFunds()
    {
        string key;
        decimal amount;
        if (_fundsKeys.Count > 0 && _random.Chance(0.35))
        {
            // A client retrying: the same key, usually the same request, sometimes a different amount.
            Stats.FundsRetries++;
            key = _random.Pick(_fundsKeys.Keys.ToList());
            amount = _fundsKeys[key] + (_random.Chance(0.15) ? 1 : 0);
        }
        else
        {
            Stats.FundsRequests++;
            key = $"funds-{_fundsKeys.Count + 1}";
            amount = _random.Next(100, 20_000) / 100m;
            _fundsKeys[key] = amount;
        }
        External(() =>
        {
            var decision = _account.Decide(new AddFunds(amount, null, key, _now));
            if (_purchaseByClientKey.TryGetValue(key, out var purchaseId))
            {
                var first = _requestedByPurchase[purchaseId];
                var expected = first.Amount == amount ? purchaseId : null;
                if (decision.Events.Count > 0 || decision.Outcome.Id != expected
                    || (expected is null && decision.Outcome.Refusal?.Code != "idempotency_key_reused"))
                    throw new SimulationViolation($"FUNDS: retry of '{key}' ({amount}, first {first.Amount} as {purchaseId}) was answered {decision.Outcome} with {decision.Events.Count} events");
            }
            Persist(decision.Events);
        });
    }

    private void Cancel()
    {
        var active = _account.ActiveSubscriptions.ToList();
        if (active.Count == 0) return;
        External(() => Persist(_account.Decide(new CancelSubscription(_random.Pick(active).Id, _random.Chance(0.5), _now)).Events));
    }

    private void ConfigureAutoRecharge()
    {
        var methods = _account.PaymentMethods;
        var settings = new AutoRechargeSettings(_random.Chance(0.8), _random.Next(0, 50), _random.Next(10, 100),
            methods.Count > 0 && _random.Chance(0.3) ? _random.Pick(methods).Id : null);
        External(() => Persist(_account.Decide(new ConfigureAutoRecharge(settings, _now)).Events));
    }

    private void AddCard()
    {
        var token = _random.Next(100) switch { < 60 => "tok_ok", < 85 => "tok_flaky", _ => "tok_decline" };
        External(() => Persist(_account.Decide(new AddPaymentMethod(Card(token), _random.Chance(0.5), _now)).Events));
    }

    private void UpdatePreferences()
    {
        string?[] countries = [null, "ES", "DE", "US"];
        var preferences = new Preferences(
            new BillingInfo("Simulated", "sim@example.com", null, _random.Pick(countries), null),
            NotificationSettings.Default with { LowBalanceThreshold = _random.Chance(0.5) ? 10 : null });
        External(() => Persist(_account.Decide(new UpdatePreferences(preferences, _now)).Events));
    }

    /// <summary>The notification sink answered: each delivery is persisted, as the actor does.</summary>
    private void DeliverNotifications()
    {
        foreach (var notification in _account.UndeliveredNotifications.Take(3).ToList())
            Persist([new NotificationDelivered(notification.Id, null, _now)]);
    }

    // ------------------------------------------------------------------ the node (as AccountActor)

    /// <summary>A message from outside: renewals, invoices and reminders that fell due are persisted first.</summary>
    private void External(Action handle)
    {
        if (_account.NextDueAt is { } due && due <= _now)
            Persist(_account.Decide(new AdvanceClock(_now)).Events);
        handle();
    }

    /// <summary>The actor's clock timer: catch up with time now.</summary>
    private void ScheduleClock() => Persist(_account.Decide(new AdvanceClock(_now)).Events);

    /// <summary>One atomic journal write, then apply and act on each event, as <c>PersistAll</c> + <c>AfterPersist</c>.</summary>
    private void Persist(IReadOnlyList<IAccountEvent> events)
    {
        if (events.Count == 0) return;
        MaybeCrash(0.01, "before a journal write");
        foreach (var e in events) Append(e);
        _unapplied = events.Count;
        MaybeCrash(0.01, "after a journal write, before applying it");
        var first = _journal.Count - events.Count;
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            _account.Apply(e);
            _unapplied--;
            switch (e)
            {
                case PaymentRequested requested:
                    Charge(_account.FindPurchase(requested.PurchaseId)!, resumed: false);
                    break;
                case PaymentSucceeded or PaymentFailed:
                    ScheduleRechargeRetry();
                    break;
            }
            var sequenceNr = first + i + 1;
            // A snapshot store may fail a write; the journal still holds everything.
            if (sequenceNr % _snapshotEvery == 0 && !(_faults && _random.Chance(0.1)))
                _snapshot = (sequenceNr, _account.ToSnapshot());
        }
    }

    /// <summary>The gateway call, off the actor's thread: it may be lost, answered late, or its answer lost.</summary>
    private void Charge(Purchase purchase, bool resumed)
    {
        Stats.GatewayCalls++;
        var key = resumed && _options.Bugs.HasFlag(InjectedBug.ResumeWithNewKey) ? $"{purchase.GatewayKey}/retry-{_incarnation}" : purchase.GatewayKey;
        if (_faults && _random.Chance(0.08))
        {
            Stats.LostRequests++;
            Post(new Message(MessageKind.Unanswered, _now + ChargeTimeout, _incarnation, purchase.Id));
            return;
        }
        var result = _gateway.Charge(key, purchase.Token, purchase.Amount, purchase.Currency);
        if (!result.Succeeded) Stats.Declines++;
        if (_faults && _random.Chance(0.08))
        {
            Stats.LostAnswers++;
            Post(new Message(MessageKind.Unanswered, _now + ChargeTimeout, _incarnation, purchase.Id));
            return;
        }
        var late = _faults && _random.Chance(0.3);
        if (late) Stats.LateAnswers++;
        Post(new Message(MessageKind.Answered, _now + TimeSpan.FromSeconds(late ? _random.Next(1, 30) : 0), _incarnation, purchase.Id, result));
    }

    private void ScheduleRechargeRetry()
    {
        if (_account.RechargeRetryDueAt is { } due)
            Post(new Message(MessageKind.RetryRecharge, due, _incarnation, null));
    }

    private void DeliverOne()
    {
        var ready = _mailbox.Where(m => m.Incarnation == _incarnation && m.NotBefore <= _now).ToList();
        if (ready.Count == 0) return;
        var message = _random.Pick(ready);
        _mailbox.Remove(message);
        Deliver(message);
    }

    private void Deliver(Message message)
    {
        switch (message.Kind)
        {
            case MessageKind.Answered:
                var r = message.Result!;
                Persist(_account.Decide(new RecordPaymentResult(message.PurchaseId!, r.Succeeded, r.ChargeId, r.FailureCode, r.FailureMessage, _now)).Events);
                break;
            case MessageKind.Unanswered:
                Post(new Message(MessageKind.ResumeCharge, _now + GatewayRetry, _incarnation, message.PurchaseId));
                break;
            case MessageKind.ResumeCharge:
                if (_account.FindPurchase(message.PurchaseId!) is { Status: PurchaseStatus.Pending } purchase) Charge(purchase, resumed: false);
                break;
            case MessageKind.RetryRecharge:
                Persist(_account.Decide(new RetryRecharge(_now)).Events);
                break;
        }
    }

    /// <summary>Timers with a key replace the one before them, as Akka's single timers do.</summary>
    private void Post(Message message)
    {
        if (message.Kind is MessageKind.ResumeCharge or MessageKind.RetryRecharge)
            _mailbox.RemoveAll(m => m.Kind == message.Kind && m.PurchaseId == message.PurchaseId && m.Incarnation == message.Incarnation);
        _mailbox.Add(message);
    }

    private void MaybeCrash(double probability, string where)
    {
        if (_faults && _random.Chance(probability)) Crash(where);
    }

    private static void Crash(string where) => throw new SimCrash(where);

    /// <summary>Runs a piece of the world; a crash inside it restarts the node and the consumer.</summary>
    private void Guarded(Action action)
    {
        try
        {
            action();
        }
        catch (SimCrash crash)
        {
            Restart(crash.Where);
        }
    }

    /// <summary>
    /// The process died: the account is recovered from the latest snapshot plus the journal after
    /// it (or the whole journal), the consumer resumes from its committed offsets, and recovery
    /// resumes every pending charge with its persisted key, as <c>ResumeAfterRecovery</c> does.
    /// </summary>
    private void Restart(string where)
    {
        Stats.Crashes++;
        Trace($"crash {where}");
        // The recovered account must equal the one that crashed (when it had applied everything it
        // wrote), else a replay of the whole journal.
        var from = _snapshot is { } latest && _random.Chance(0.7) ? latest : ((int SequenceNr, AccountSnapshot Snapshot)?)null;
        if (from is not null) Stats.SnapshotRecoveries++;
        var recovered = Replay(from);
        ExpectSameState(recovered, _unapplied == 0 ? _account : Replay(null),
                $"recovery from {(from is { } used ? $"the snapshot at {used.SequenceNr} + " : "")}the journal ({_journal.Count} events)");
        _account = recovered;
        _verifiedInvoices = 0;
        _unapplied = 0;
        _incarnation++;
        _kafka.Rewind();

        // Messages to the dead incarnation are dead letters, except a late gateway answer that
        // reaches the new one (routed by the shard region): a repeat the account must ignore.
        var moved = _mailbox.Where(m => m.Kind == MessageKind.Answered && m.Incarnation == _incarnation - 1 && _random.Chance(0.25)).ToList();
        _mailbox.Clear();
        foreach (var m in moved)
        {
            Stats.AnswersAcrossRestart++;
            _mailbox.Add(m with { Incarnation = _incarnation });
        }

        Guarded(() =>
        {
            foreach (var purchase in _account.PendingPurchases.ToList()) Charge(purchase, resumed: true);
            ScheduleRechargeRetry();
            ScheduleClock();
        });
    }

    private Account Replay((int SequenceNr, AccountSnapshot Snapshot)? from)
    {
        var account = from is { } s ? Account.FromSnapshot(s.Snapshot, _settings) : new Account(AccountId, _settings);
        for (var i = from?.SequenceNr ?? 0; i < _journal.Count; i++) account.Apply(_journal[i]);
        return account;
    }

    private static void ExpectSameState(Account actual, Account expected, string what)
    {
        var (a, e) = (actual.ToSnapshot(), expected.ToSnapshot());
        if (SnapshotEquality.Same(a, e)) return;
        // Only on failure: show where the two states part.
        var (aj, ej) = (JsonSerializer.Serialize(a, FailureJson), JsonSerializer.Serialize(e, FailureJson));
        var at = Enumerable.Range(0, Math.Min(aj.Length, ej.Length)).FirstOrDefault(i => aj[i] != ej[i]);
        throw new SimulationViolation($"REPLAY: {what}: ...{aj[Math.Max(0, at - 80)..Math.Min(aj.Length, at + 80)]}... vs ...{ej[Math.Max(0, at - 80)..Math.Min(ej.Length, at + 80)]}...");
    }

    // ------------------------------------------------------------------ settling and the checks

    /// <summary>Faults stop; the consumer catches up and every message and timer is delivered.</summary>
    private void Settle()
    {
        _faults = false;
        Trace("settle");
        for (var round = 0; ; round++)
        {
            if (round > 1_000) throw new SimulationViolation("STUCK: the world does not settle");
            Drain();
            var next = _mailbox.Where(m => m.Incarnation == _incarnation).OrderBy(m => m.NotBefore).FirstOrDefault();
            if (next is null) break;
            if (next.NotBefore > _now) MoveClock(next.NotBefore);
            _mailbox.Remove(next);
            Deliver(next);
            CheckInvariants();
        }
        CheckInvariants();
    }

    private void CheckSettled()
    {
        if (_account.PendingPurchases.FirstOrDefault() is { } pending)
            throw new SimulationViolation($"PAYMENT: purchase {pending.Id} is still pending after the world settled");
        var missing = _produced.Keys.Where(k => !_counted.Contains(k)).ToList();
        if (missing.Count > 0)
            throw new SimulationViolation($"LOST: {missing.Count} produced events were never counted, e.g. {missing[0]}");
        foreach (var key in _gateway.Keys)
        {
            var result = _gateway.Results[key];
            var purchase = _requestedByKey.TryGetValue(key, out var r) ? _account.FindPurchase(r.PurchaseId) : null;
            var status = result.Succeeded ? PurchaseStatus.Succeeded : PurchaseStatus.Failed;
            if (purchase?.Status != status)
                throw new SimulationViolation($"PAYMENT: the gateway {(result.Succeeded ? "charged" : "declined")} '{key}' but the account has {purchase?.Status.ToString() ?? "no purchase"}");
        }
        ExpectSameState(Replay(null), _account, "the settled account differs from a replay of its journal");
        Stats.JournalEvents = _journal.Count;
        Stats.Invoices = _account.Invoices.Count;
    }

    /// <summary>Every event written is checked as it is written: nothing counted twice, payments consistent.</summary>
    private void Append(IAccountEvent e)
    {
        _journal.Add(e);
        switch (e)
        {
            case UsageRecorded usage:
                foreach (var record in usage.Accepted)
                {
                    if (!_produced.ContainsKey(record.DedupeKey))
                        throw new SimulationViolation($"COUNTED: {record.DedupeKey} was never produced");
                    if (!_counted.Add(record.DedupeKey))
                        throw new SimulationViolation($"COUNTED TWICE: {record.DedupeKey} at {record.Position}");
                }
                _charges += usage.Charges?.Sum(c => c.Amount) ?? 0;
                break;
            case InvoiceIssued invoice:
                _charges += invoice.ChargeAtIssue;
                break;
            case SubscriptionRenewed:
                Stats.Renewals++;
                break;
            case PaymentRequested requested:
                if (!_requestedByKey.TryAdd(requested.GatewayKey, requested) || !_requestedByPurchase.TryAdd(requested.PurchaseId, requested))
                    throw new SimulationViolation($"CHARGED TWICE: a second request for purchase {requested.PurchaseId} / key '{requested.GatewayKey}'");
                if (requested.ClientKey is { } clientKey && !_purchaseByClientKey.TryAdd(clientKey, requested.PurchaseId))
                    throw new SimulationViolation($"CHARGED TWICE: idempotency key '{clientKey}' got a second purchase {requested.PurchaseId}");
                if (requested.Kind == PurchaseKind.Recharge) CheckRecharge(requested);
                break;
            case PaymentSucceeded succeeded:
                var paid = SettlePurchase(succeeded.PurchaseId, succeeded: true);
                _credits += paid.Amount;
                break;
            case PaymentFailed failed:
                SettlePurchase(failed.PurchaseId, succeeded: false);
                break;
        }
    }

    private PaymentRequested SettlePurchase(string purchaseId, bool succeeded)
    {
        if (!_requestedByPurchase.TryGetValue(purchaseId, out var requested))
            throw new SimulationViolation($"PAYMENT: outcome for purchase {purchaseId} that was never requested");
        if (!_settled.Add(purchaseId))
            throw new SimulationViolation($"PAYMENT: purchase {purchaseId} settled twice");
        if (!_gateway.Results.TryGetValue(requested.GatewayKey, out var result) || result.Succeeded != succeeded || result.Amount != requested.Amount)
            throw new SimulationViolation($"PAYMENT: the journal says {purchaseId} {(succeeded ? "succeeded" : "failed")}, the gateway has {result?.ToString() ?? "nothing"} for '{requested.GatewayKey}'");
        return requested;
    }

    /// <summary>Auto-recharge: one in flight at most, never more than the daily cap.</summary>
    private void CheckRecharge(PaymentRequested recharge)
    {
        Stats.Recharges++;
        if (_account.PendingPurchases.Any(p => p.Kind == PurchaseKind.Recharge))
            throw new SimulationViolation($"RECHARGE: {recharge.PurchaseId} requested while another recharge is in flight");
        var day = recharge.At.UtcDateTime.Date;
        var count = _requestedByPurchase.Values.Count(r => r.Kind == PurchaseKind.Recharge && r.At.UtcDateTime.Date == day);
        if (count > _settings.RechargeDailyCap)
            throw new SimulationViolation($"RECHARGE: {count} recharges on {day:yyyy-MM-dd}, the cap is {_settings.RechargeDailyCap}");
    }

    /// <summary>The invariants that hold after every step.</summary>
    private void CheckInvariants()
    {
        // Nothing lost: every committed offset's event is counted (by itself or its duplicate).
        for (var p = 0; p < Partitions; p++)
        {
            var log = _kafka.Log(p);
            for (var o = _verifiedCommitted[p]; o < _kafka.Committed(p); o++)
            {
                if (!_counted.Contains(log[(int)o].DedupeKey))
                    throw new SimulationViolation($"LOST: offset {p}/{o} ({log[(int)o].DedupeKey}) is committed but was never counted");
            }
            _verifiedCommitted[p] = _kafka.Committed(p);
        }
        if (_account.EventsProcessed != _counted.Count)
            throw new SimulationViolation($"STATE: the account counted {_account.EventsProcessed} events, its journal {_counted.Count}");

        // No card charged but for a persisted request under its own key.
        for (; _verifiedGatewayKeys < _gateway.Keys.Count; _verifiedGatewayKeys++)
        {
            var key = _gateway.Keys[_verifiedGatewayKeys];
            if (!_requestedByKey.TryGetValue(key, out var requested) || requested.Amount != _gateway.Results[key].Amount)
                throw new SimulationViolation($"CHARGED TWICE: the gateway charged '{key}', which no persisted request holds ({_requestedByKey.Count} requests persisted)");
        }

        // The wallet: balance - pending = succeeded payments - (overage charges + invoice fees and tax).
        var (balance, pending) = (_account.Balance, _account.PendingBalance);
        if (balance - pending != _credits - _charges || balance < 0 || pending < 0 || (balance > 0 && pending > 0))
            throw new SimulationViolation($"MONEY: balance {balance}, pending {pending}; payments {_credits} - charges {_charges} = {_credits - _charges}");

        // Invoices: numbered without gaps, paid exactly when nothing is due, never more due than pending.
        decimal due = 0;
        var invoices = _account.Invoices;
        for (var i = 0; i < invoices.Count; i++)
        {
            var invoice = invoices[i];
            if (i >= _verifiedInvoices && (invoice.Number != $"{AccountId}-{i + 1:000000}" || invoice.Id != $"inv_{i + 1}"))
                throw new SimulationViolation($"INVOICE: #{i + 1} is {invoice.Id} / {invoice.Number}");
            if (invoice.AmountDue < 0 || (invoice.Status == InvoiceStatus.Paid) != (invoice.AmountDue == 0))
                throw new SimulationViolation($"INVOICE: {invoice.Number} is {invoice.Status} with {invoice.AmountDue} due");
            due += invoice.AmountDue;
        }
        _verifiedInvoices = invoices.Count;
        if (due > pending)
            throw new SimulationViolation($"INVOICE: {due} due on invoices but only {pending} pending");

        // Plans: periods follow each other without gaps or overlaps.
        foreach (var sub in _account.Subscriptions)
        {
            var periods = sub.Periods;
            for (var i = 0; i < periods.Count; i++)
            {
                if (periods[i].Start >= periods[i].End || (i > 0 && periods[i].Start != periods[i - 1].End))
                    throw new SimulationViolation($"PLAN: {sub.Id} period {i + 1} is {periods[i].Start:O}..{periods[i].End:O}");
            }
            if (periods[^1].Start != sub.PeriodStart || periods[^1].End != sub.PeriodEnd)
                throw new SimulationViolation($"PLAN: {sub.Id} is in {sub.PeriodStart:O}..{sub.PeriodEnd:O}, its last period is {periods[^1].Start:O}..{periods[^1].End:O}");
        }
    }

    // ------------------------------------------------------------------ helpers

    private void Trace(string action)
    {
        var line = new TraceLine(_step, action, _now, _journal.Count, _counted.Count, _account.Balance, _account.PendingBalance, _account.Invoices.Count, _mailbox.Count);
        foreach (var c in action) Mix(c);
        Mix((ulong)_step);
        Mix((ulong)_now.UtcTicks);
        Mix((ulong)line.Journal);
        Mix((ulong)line.Counted);
        Mix((ulong)line.Invoices);
        Mix((ulong)line.Mail);
        Span<int> bits = stackalloc int[4];
        foreach (var amount in (ReadOnlySpan<decimal>)[line.Balance, line.Pending])
        {
            decimal.GetBits(amount, bits);
            foreach (var b in bits) Mix((uint)b);
        }
        if (_tail.Count == 30) _tail.Dequeue();
        _tail.Enqueue(line);
    }

    /// <summary>FNV-1a over the trace: the same seed must give the same hash.</summary>
    private void Mix(ulong value) => _hash = (_hash ^ value) * 1099511628211UL;

    private static PaymentCard Card(string token) => new(token, "visa", CardFunding.Credit, token == "tok_ok" ? "4242" : "0002", 12, 2035, "Sim Holder");

    /// <summary>A valid plan with a random price model, small quotas so overage (and volume credits) happen.</summary>
    private Plan RandomPlan(int n)
    {
        var quotas = new Dictionary<string, decimal>();
        var overage = new Dictionary<string, OveragePrice>();
        foreach (var meter in Meters)
        {
            if (_random.Chance(0.7)) quotas[meter] = _random.Next(0, 40);
            if (_random.Chance(0.8)) overage[meter] = RandomPrice();
        }
        var plan = new Plan($"sim-{n}", $"Simulated {n}", "USD", _random.Next(0, 3_000) / 100m,
            _random.Chance(0.2) ? PlanInterval.Year : PlanInterval.Month, quotas, overage);
        return plan.Validate() is { Count: 0 } ? plan : throw new InvalidOperationException(string.Join(" ", plan.Validate()));
    }

    private OveragePrice RandomPrice()
    {
        PriceTier[] Tiers()
        {
            var count = _random.Next(1, 4);
            decimal bound = 0;
            return Enumerable.Range(0, count).Select(i =>
            {
                bound += _random.Next(1, 40);
                return new PriceTier(i == count - 1 ? null : bound, _random.Next(0, 1_000) / 1_000m, _random.Chance(0.3) ? _random.Next(0, 500) / 100m : 0);
            }).ToArray();
        }
        return _random.Next(4) switch
        {
            0 => new PerUnitPrice(_random.Next(1, 1_000) / 1_000m),
            1 => new PackagePrice(_random.Next(1, 20), _random.Next(1, 500) / 100m),
            2 => new GraduatedPrice(Tiers()),
            _ => new VolumePrice(Tiers()),
        };
    }

    private readonly record struct TraceLine(int Step, string Action, DateTimeOffset Now, int Journal, int Counted, decimal Balance, decimal Pending, int Invoices, int Mail)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"{Step} {Action} now={Now:O} journal={Journal} counted={Counted} balance={Balance} pending={Pending} invoices={Invoices} mail={Mail}");
    }

    private enum MessageKind { Answered, Unanswered, ResumeCharge, RetryRecharge }

    /// <summary>A message to the account actor: a gateway answer or failure, or a timer.</summary>
    private sealed record Message(MessageKind Kind, DateTimeOffset NotBefore, int Incarnation, string? PurchaseId, ChargeResult? Result = null);

    private sealed class SimCrash(string where) : Exception(where)
    {
        public string Where { get; } = where;
    }
}

/// <summary>Counts of what a run did, summed over runs for the report.</summary>
public sealed class SimulationStats
{
    public int Steps;
    public int UsageProduced;
    public int ProducerDuplicates;
    public int Batches;
    public int Redelivered;
    public int DuplicatesDropped;
    public int Crashes;
    public int SnapshotRecoveries;
    public int ConsumerRestarts;
    public int GatewayCalls;
    public int LostRequests;
    public int LostAnswers;
    public int LateAnswers;
    public int AnswersAcrossRestart;
    public int Declines;
    public int FundsRequests;
    public int FundsRetries;
    public int ClockJumps;
    public int Renewals;
    public int Recharges;
    public int Invoices;
    public int JournalEvents;

    public void Add(SimulationStats other)
    {
        foreach (var field in typeof(SimulationStats).GetFields())
            field.SetValue(this, (int)field.GetValue(this)! + (int)field.GetValue(other)!);
    }

    public override string ToString() => string.Join(", ", typeof(SimulationStats).GetFields().Select(f => $"{f.Name}={f.GetValue(this)}"));
}
