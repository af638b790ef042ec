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
        var records = command.Records;
        var accepted = new List<UsageRecord>(records.Count);
        List<KafkaPosition>? dropped = null;
        var inBatch = new HashSet<DedupeKey>(records.Count);
        var committed = new CommittedWatermarks(command.Committed);
        var redelivered = 0;

        // Indexed loops over the command's lists here and in ApplyUsage: a foreach over an
        // IReadOnlyList boxes its enumerator, once per list per batch of every account.
        for (var i = 0; i < records.Count; i++)
        {
            var record = records[i];
            if (_taken.Contains(record.Position, committed.Of(record.Position.Partition)))
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

        var (draws, charges) = Rate(accepted);
        var usage = new UsageRecorded(accepted, committed.Raised(records, _taken), dropped?.Count ?? 0, now, draws, charges, dropped);
        var (balanceAfter, _) = Wallet.AfterCharge(Balance, PendingBalance, charges.Sum(c => c.Amount));
        return new Decision<UsageOutcome>(MaybeRecharge(balanceAfter, now) is { } recharge ? [usage, recharge] : [usage], outcome);
    }

    /// <summary>
    /// The group's watermark on a partition (-1 where none was committed). A committed offset is the
    /// next one to read: everything below it is done, so its watermark is one less. The list covers
    /// the whole batch's partitions, and an account's records mostly come from one (the producers key
    /// them by account), so the last partition's watermark is kept rather than a table made per batch.
    /// </summary>
    private struct CommittedWatermarks(IReadOnlyList<KafkaPosition>? committed)
    {
        private int _partition = -1;
        private long _mark;

        public long Of(int partition)
        {
            if (partition == _partition) return _mark;
            var mark = -1L;
            for (var i = 0; i < (committed?.Count ?? 0); i++)
                if (committed![i].Partition == partition) mark = Math.Max(mark, committed[i].Offset - 1);
            (_partition, _mark) = (partition, mark);
            return mark;
        }

        /// <summary>The watermarks of the records' partitions that moved past the account's own, each once.</summary>
        public KafkaPosition[] Raised(IReadOnlyList<UsageRecord> records, TakenOffsets taken)
        {
            List<KafkaPosition>? raised = null;
            for (var i = 0; i < records.Count; i++)
            {
                var partition = records[i].Position.Partition;
                if (Of(partition) is var mark && mark > taken.WatermarkOf(partition) && !Has(raised, partition))
                    (raised ??= []).Add(new KafkaPosition(partition, mark));
            }
            return raised?.ToArray() ?? [];
        }

        private static bool Has(List<KafkaPosition>? marks, int partition)
        {
            if (marks is null) return false;
            foreach (var mark in marks) if (mark.Partition == partition) return true;
            return false;
        }
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
        for (var i = 0; i < e.Accepted.Count; i++)
        {
            var record = e.Accepted[i];
            _usage[record.Meter] = _usage.GetValueOrDefault(record.Meter) + record.Quantity;
            if (remember) _dedupe.Remember(record.DedupeKey, e.At);
        }
        for (var i = 0; i < e.Watermarks.Count; i++) _taken.Raise(e.Watermarks[i]);
        for (var i = 0; i < e.Accepted.Count; i++) _taken.Take(e.Accepted[i].Position);
        for (var i = 0; i < (e.Dropped?.Count ?? 0); i++) _taken.Take(e.Dropped![i]);
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
