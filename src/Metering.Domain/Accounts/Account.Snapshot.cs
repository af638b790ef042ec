using Metering.Domain.Plans;
using Metering.Domain.Usage;

namespace Metering.Domain.Accounts;

public sealed partial class Account
{
    public AccountSnapshot ToSnapshot() => new(
        Id,
        Currency,
        Balance,
        PendingBalance,
        CycleAnchor,
        Cycle?.Start,
        new Dictionary<string, decimal>(_usage, StringComparer.Ordinal),
        EventsProcessed,
        DuplicatesDropped,
        LastUsageAt,
        _taken.Watermarks.Select(kv => new KafkaPosition(kv.Key, kv.Value)).ToArray(),
        [],
        _subscriptions.Select(s => s.ToSnapshot()).ToArray(),
        _subscriptionSeq,
        _paymentMethods.ToArray(),
        _paymentMethodSeq,
        DefaultPaymentMethodId,
        AutoRecharge,
        AutoRechargeSuspendedReason,
        RechargeFailures,
        LastRechargeFailureAt,
        _purchases.Values.ToArray(),
        _ledger.ToArray(),
        _invoices.ToArray(),
        Preferences,
        _notifications.ToArray(),
        _lowBalanceArmed,
        _taken.Above.ToArray(),
        _dedupe.Pack());

    public static Account FromSnapshot(AccountSnapshot snapshot, AccountSettings settings)
    {
        var account = new Account(snapshot.Id, settings)
        {
            Currency = snapshot.Currency,
            Balance = snapshot.Balance,
            PendingBalance = snapshot.PendingBalance,
            CycleAnchor = snapshot.CycleAnchor,
            EventsProcessed = snapshot.EventsProcessed,
            DuplicatesDropped = snapshot.DuplicatesDropped,
            LastUsageAt = snapshot.LastUsageAt,
            DefaultPaymentMethodId = snapshot.DefaultPaymentMethodId,
            AutoRecharge = snapshot.AutoRecharge,
            AutoRechargeSuspendedReason = snapshot.AutoRechargeSuspendedReason,
            RechargeFailures = snapshot.RechargeFailures,
            LastRechargeFailureAt = snapshot.LastRechargeFailureAt,
            _subscriptionSeq = snapshot.SubscriptionSeq,
            _paymentMethodSeq = snapshot.PaymentMethodSeq,
        };
        if (snapshot is { CycleAnchor: { } anchor, CycleStart: { } start })
            account.Cycle = BillingCycle.Containing(anchor, start);
        foreach (var (meter, quantity) in snapshot.Usage) account._usage[meter] = quantity;
        foreach (var mark in snapshot.Watermarks) account._taken.Raise(mark);
        foreach (var position in snapshot.TakenAbove ?? []) account._taken.Take(position);
        foreach (var entry in snapshot.Dedupe) account._dedupe.Restore(DedupeKey.Of(entry.Source, entry.Id), entry.ExpiresAt);
        account._dedupe.Unpack(snapshot.DedupeWindow ?? []);
        foreach (var s in snapshot.Subscriptions)
        {
            var sub = new Subscription(s.Id, s.Plan, s.Team, s.StartedAt, s.PeriodStart, s.PeriodEnd)
            {
                Status = s.Status, EndedAt = s.EndedAt, CancelAtPeriodEnd = s.CancelAtPeriodEnd,
            };
            sub.Periods.AddRange(s.Periods);
            foreach (var (k, v) in s.Used) sub.Used[k] = v;
            foreach (var (k, v) in s.Overage) sub.Overage[k] = v;
            foreach (var (k, v) in s.Charged) sub.Charged[k] = v;
            account._subscriptions.Add(sub);
        }
        account._paymentMethods.AddRange(snapshot.PaymentMethods);
        foreach (var p in snapshot.Purchases)
        {
            account._purchases[p.Id] = p;
            if (p.ClientKey is not null) account._purchaseByClientKey[p.ClientKey] = p.Id;
        }
        account._ledger.AddRange(snapshot.Ledger);
        account._invoices.AddRange(snapshot.Invoices);
        account.Preferences = snapshot.Preferences;
        foreach (var n in snapshot.Notifications) account.Remember(n);
        account._lowBalanceArmed = snapshot.LowBalanceArmed;
        return account;
    }
}

/// <summary>The whole state of an account, for the snapshot store.</summary>
/// <param name="Dedupe">The dedupe window as snapshots before <paramref name="DedupeWindow"/> kept it (identities in full); empty in newer ones.</param>
/// <param name="TakenAbove">Offsets taken above the watermarks (see <see cref="TakenOffsets"/>); null in snapshots taken before they were kept.</param>
/// <param name="DedupeWindow">The dedupe window packed (<see cref="Accounts.DedupeWindow.Pack"/>); null in snapshots taken before it was.</param>
public sealed record AccountSnapshot(
    string Id,
    string Currency,
    decimal Balance,
    decimal PendingBalance,
    DateTimeOffset? CycleAnchor,
    DateTimeOffset? CycleStart,
    IReadOnlyDictionary<string, decimal> Usage,
    long EventsProcessed,
    long DuplicatesDropped,
    DateTimeOffset? LastUsageAt,
    IReadOnlyList<KafkaPosition> Watermarks,
    IReadOnlyList<DedupeEntry> Dedupe,
    IReadOnlyList<SubscriptionSnapshot> Subscriptions,
    int SubscriptionSeq,
    IReadOnlyList<PaymentMethod> PaymentMethods,
    int PaymentMethodSeq,
    string? DefaultPaymentMethodId,
    AutoRechargeSettings AutoRecharge,
    string? AutoRechargeSuspendedReason,
    int RechargeFailures,
    DateTimeOffset? LastRechargeFailureAt,
    IReadOnlyList<Purchase> Purchases,
    IReadOnlyList<LedgerEntry> Ledger,
    IReadOnlyList<Invoice> Invoices,
    Preferences Preferences,
    IReadOnlyList<Notification> Notifications,
    bool LowBalanceArmed,
    IReadOnlyList<KafkaPosition>? TakenAbove = null,
    byte[]? DedupeWindow = null);

/// <summary>A dedupe window entry as older snapshots kept it; read only.</summary>
public sealed record DedupeEntry(string Source, string Id, DateTimeOffset ExpiresAt);

public sealed record SubscriptionSnapshot(
    string Id,
    Plan Plan,
    string? Team,
    DateTimeOffset StartedAt,
    DateTimeOffset PeriodStart,
    DateTimeOffset PeriodEnd,
    SubscriptionStatus Status,
    DateTimeOffset? EndedAt,
    IReadOnlyDictionary<string, decimal> Used,
    IReadOnlyDictionary<string, decimal> Overage,
    IReadOnlyDictionary<string, decimal> Charged,
    bool CancelAtPeriodEnd,
    IReadOnlyList<SubscriptionPeriod> Periods);
