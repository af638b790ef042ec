using Metering.Domain.Usage;

namespace Metering.Domain.Accounts;

/// <summary>What a command produced: the events to persist, and the answer for the sender.</summary>
public sealed record Decision<TOutcome>(IReadOnlyList<IAccountEvent> Events, TOutcome Outcome);

/// <summary>How a usage batch was taken.</summary>
/// <param name="Accepted">Counted now.</param>
/// <param name="Duplicates">Dropped: their CloudEvents (source, id) was already counted in the window.</param>
/// <param name="Redelivered">Dropped: the account already took their Kafka offset (see <see cref="TakenOffsets"/>).</param>
public sealed record UsageOutcome(int Accepted, int Duplicates, int Redelivered);

/// <summary>
/// One account (tenant): usage, plans, wallet, cards, and the dedupe memory that makes Kafka's
/// at-least-once delivery count exactly once. <c>Decide</c> never changes state; <see cref="Apply"/>
/// is the only mutation and is what replay runs. The state is mutable for speed (a batch can carry
/// thousands of ids); nothing outside the owning actor ever holds it.
/// </summary>
public sealed partial class Account
{
    private readonly Dictionary<string, decimal> _usage = new(StringComparer.Ordinal);
    private readonly TakenOffsets _taken = new();
    private readonly DedupeWindow _dedupe;

    public Account(string id, AccountSettings settings)
    {
        Id = id;
        Settings = settings;
        Currency = settings.Currency;
        _dedupe = new DedupeWindow(settings.DedupeWindow);
    }

    public string Id { get; }
    public AccountSettings Settings { get; }
    public string Currency { get; private set; }
    /// <summary>When the first usage arrived, at midnight UTC; billing cycles count from here.</summary>
    public DateTimeOffset? CycleAnchor { get; private set; }
    public BillingCycle? Cycle { get; private set; }
    public IReadOnlyDictionary<string, decimal> Usage => _usage;
    public long EventsProcessed { get; private set; }
    public long DuplicatesDropped { get; private set; }
    public DateTimeOffset? LastUsageAt { get; private set; }
    public TakenOffsets Taken => _taken;
    public DedupeWindow Dedupe => _dedupe;

    public Decision<UsageOutcome> Decide(RecordUsage command)
    {
        var now = command.At;
        var accepted = new List<UsageRecord>(command.Records.Count);
        List<KafkaPosition>? dropped = null;
        var inBatch = new HashSet<DedupeKey>(command.Records.Count);
        var committed = CommittedWatermarks(command);
        var redelivered = 0;

        foreach (var record in command.Records)
        {
            if (_taken.Contains(record.Position, committed.GetValueOrDefault(record.Position.Partition, -1)))
            {
                redelivered++;
                continue;
            }
            var key = record.DedupeKey;
            if (_dedupe.Contains(key, now) || !inBatch.Add(key))
            {
                (dropped ??= []).Add(record.Position);
                continue;
            }
            accepted.Add(record);
        }

        var outcome = new UsageOutcome(accepted.Count, dropped?.Count ?? 0, redelivered);
        if (accepted.Count == 0 && dropped is null) return new Decision<UsageOutcome>([], outcome);

        // Raise only where the commit moved past the account's watermark.
        var marks = committed.Where(kv => kv.Value > _taken.WatermarkOf(kv.Key)).Select(kv => new KafkaPosition(kv.Key, kv.Value)).ToArray();
        var (draws, charges) = Rate(accepted);
        var usage = new UsageRecorded(accepted, marks, dropped?.Count ?? 0, now, draws, charges, dropped);
        var (balanceAfter, _) = Wallet.AfterCharge(Balance, PendingBalance, charges.Sum(c => c.Amount));
        return new Decision<UsageOutcome>(MaybeRecharge(balanceAfter, now) is { } recharge ? [usage, recharge] : [usage], outcome);
    }

    /// <summary>
    /// The group's watermark on each partition this account's records come from (-1 where none was
    /// committed). A committed offset is the next one to read: everything below it is done, so its
    /// watermark is one less. Only the account's own partitions: the list covers the whole batch.
    /// </summary>
    private static Dictionary<int, long> CommittedWatermarks(RecordUsage command)
    {
        var marks = new Dictionary<int, long>();
        foreach (var record in command.Records)
        {
            var partition = record.Position.Partition;
            if (marks.ContainsKey(partition)) continue;
            var mark = -1L;
            foreach (var c in command.Committed ?? [])
                if (c.Partition == partition) mark = Math.Max(mark, c.Offset - 1);
            marks[partition] = mark;
        }
        return marks;
    }

    public Account Apply(IAccountEvent @event)
    {
        switch (@event)
        {
            case UsageRecorded e: ApplyUsage(e); break;
            case Subscribed e: ApplySubscribed(e); break;
            case SubscriptionCanceled e: ApplyCanceled(e); break;
            case SubscriptionRenewed e: ApplyRenewed(e); break;
            case SubscriptionEnded e: ApplyEnded(e); break;
            case InvoiceIssued e: ApplyInvoice(e); break;
            case InvoiceVoided e: ApplyVoided(e); break;
            case InvoiceMarkedUncollectible e: ApplyUncollectible(e); break;
            case PreferencesUpdated e: Preferences = e.Preferences; break;
            case ClockAdvanced e: ApplyReminders(e.At); break;
            case NotificationDelivered e: ApplyDelivered(e); break;
            case PaymentMethodAdded e: ApplyPaymentMethodAdded(e); break;
            case PaymentMethodRemoved e: ApplyPaymentMethodRemoved(e); break;
            case DefaultPaymentMethodSet e: DefaultPaymentMethodId = e.PaymentMethodId; break;
            case AutoRechargeConfigured e: ApplyAutoRechargeConfigured(e); break;
            case AutoRechargeSuspended e: AutoRechargeSuspendedReason = e.Reason; break;
            case PaymentRequested e: ApplyPaymentRequested(e); break;
            case PaymentSucceeded e: ApplyPaymentSucceeded(e); break;
            case PaymentFailed e: ApplyPaymentFailed(e); break;
            default:
                throw new ArgumentOutOfRangeException(nameof(@event), @event.GetType().Name, "Unknown account event.");
        }
        // Usage moves counters, quotas and the wallet, never what falls due (periods' ends, reminders of
        // renewals and open invoices), and it is nearly every event: working the next due moment out
        // again after each one formatted every reminder's text for every batch of every account.
        if (@event is not UsageRecorded) _nextDueStale = true;
        return this;
    }

    private void ApplyUsage(UsageRecorded e)
    {
        RollCycle(e.At);
        _dedupe.Expire(e.At);
        // A fold without a window (the read side's) skips fingerprinting what it would not keep.
        var remember = _dedupe.Length > TimeSpan.Zero;
        foreach (var record in e.Accepted)
        {
            _usage[record.Meter] = _usage.GetValueOrDefault(record.Meter) + record.Quantity;
            if (remember) _dedupe.Remember(record.DedupeKey, e.At);
        }
        foreach (var mark in e.Watermarks) _taken.Raise(mark);
        foreach (var record in e.Accepted) _taken.Take(record.Position);
        foreach (var position in e.Dropped ?? []) _taken.Take(position);
        EventsProcessed += e.Accepted.Count;
        DuplicatesDropped += e.Duplicates;
        if (e.Accepted.Count > 0) LastUsageAt = e.At;
        ApplyRating(e.Draws ?? [], e.Charges ?? [], e.At);
    }

    /// <summary>
    /// Usage counts per cycle: entering a new cycle starts the counters again. Cycles start at
    /// midnight UTC of the day the account first had usage.
    /// </summary>
    private void RollCycle(DateTimeOffset at)
    {
        CycleAnchor ??= MidnightOf(at);
        var cycle = BillingCycle.Containing(CycleAnchor.Value, at);
        if (Cycle is { } current && current != cycle) _usage.Clear();
        Cycle = cycle;
    }
}
