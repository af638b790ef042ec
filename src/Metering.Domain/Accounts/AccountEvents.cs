using Metering.Domain.Plans;
using Metering.Domain.Usage;

namespace Metering.Domain.Accounts;

/// <summary>What happened to an account; the only thing persisted, replayed to rebuild state.</summary>
public interface IAccountEvent
{
    DateTimeOffset At { get; }
}

// Usage

/// <summary>
/// One consumed batch for one account: the usage it accepted, how many it dropped as producer
/// duplicates, and what the batch drew from plan quotas and was charged as overage. The Kafka
/// offsets it took are the accepted records' positions and <see cref="Dropped"/>; <see cref="Watermarks"/>
/// raise the partitions' watermarks (every offset at or below is done, see <see cref="TakenOffsets"/>).
/// </summary>
/// <param name="Dropped">Positions of the producer duplicates it dropped; null in rows written before
/// they were kept (their watermarks covered them: those rows came from one batch at a time).</param>
public sealed record UsageRecorded(
    IReadOnlyList<UsageRecord> Accepted,
    IReadOnlyList<KafkaPosition> Watermarks,
    int Duplicates,
    DateTimeOffset At,
    IReadOnlyList<QuotaDraw>? Draws = null,
    IReadOnlyList<OverageCharge>? Charges = null,
    IReadOnlyList<KafkaPosition>? Dropped = null) : IAccountEvent;

/// <summary>
/// Usage covered by a subscription's included quota, per team and user of the usage so the read
/// side can show who used it. <see cref="PlanId"/>, <see cref="Team"/> and <see cref="User"/> are
/// null in events written before they were recorded.
/// </summary>
public sealed record QuotaDraw(string SubscriptionId, string Meter, decimal Quantity, string? PlanId = null, string? Team = null, string? User = null);

/// <summary>
/// Usage past every quota, rated on the subscription whose plan prices it, per team and user (see
/// <see cref="QuotaDraw"/>). The amounts of one batch's charges add up to the batch's cumulative charge.
/// </summary>
public sealed record OverageCharge(string SubscriptionId, string Meter, decimal Quantity, decimal Amount, string? PlanId = null, string? Team = null, string? User = null);

// Plans

public sealed record Subscribed(string SubscriptionId, Plan Plan, string? Team, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, DateTimeOffset At) : IAccountEvent;

/// <summary>Canceled now (the plan stops covering usage at once) or at the end of the current period.</summary>
public sealed record SubscriptionCanceled(string SubscriptionId, bool AtPeriodEnd, DateTimeOffset At) : IAccountEvent;

/// <summary>A new period began: quotas start again. The invoice that opened it follows.</summary>
public sealed record SubscriptionRenewed(string SubscriptionId, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, DateTimeOffset At) : IAccountEvent;

/// <summary>A subscription canceled at period end reached it.</summary>
public sealed record SubscriptionEnded(string SubscriptionId, DateTimeOffset At) : IAccountEvent;

/// <summary>
/// An invoice: its lines and tax rate, and what issuing it debits from the wallet (fee and tax;
/// overage was debited as usage arrived). Totals, paid and due are computed when applied.
/// </summary>
/// <param name="ChargeToCard">Fee and tax left for a card charge instead of the wallet (a renewal
/// with <see cref="RenewalPayment.Card"/>): due on the invoice until the charge answers.</param>
public sealed record InvoiceIssued(
    string InvoiceId,
    string Number,
    string? SubscriptionId,
    DateTimeOffset? PeriodStart,
    DateTimeOffset? PeriodEnd,
    IReadOnlyList<InvoiceLine> Lines,
    decimal TaxRate,
    decimal ChargeAtIssue,
    BillingInfo? BillTo,
    DateTimeOffset At,
    DateTimeOffset DueAt,
    decimal ChargeToCard = 0) : IAccountEvent;

/// <summary>An open invoice was canceled: what was still due is no longer owed; what was paid stays paid.</summary>
public sealed record InvoiceVoided(string InvoiceId, DateTimeOffset At) : IAccountEvent;

/// <summary>An open invoice is not expected to be paid: no more reminders, but it stays owed and later funds still settle it.</summary>
public sealed record InvoiceMarkedUncollectible(string InvoiceId, DateTimeOffset At) : IAccountEvent;

// Preferences and notifications

public sealed record PreferencesUpdated(Preferences Preferences, DateTimeOffset At) : IAccountEvent;

/// <summary>A notification went out (or could not, after retries): it is never sent again.</summary>
public sealed record NotificationDelivered(string NotificationId, string? Failure, DateTimeOffset At) : IAccountEvent;

/// <summary>Time passed a reminder's moment (renewal, invoice due, overdue): the reminders follow from the state.</summary>
public sealed record ClockAdvanced(DateTimeOffset At) : IAccountEvent;

// Payment methods

public sealed record PaymentMethodAdded(PaymentMethod Method, bool MakeDefault, DateTimeOffset At) : IAccountEvent;

public sealed record PaymentMethodRemoved(string PaymentMethodId, DateTimeOffset At) : IAccountEvent;

public sealed record DefaultPaymentMethodSet(string PaymentMethodId, DateTimeOffset At) : IAccountEvent;

// Auto-recharge

public sealed record AutoRechargeConfigured(AutoRechargeSettings Settings, DateTimeOffset At) : IAccountEvent;

/// <summary>Recharges failed too often: nothing more is tried until the user changes the settings.</summary>
public sealed record AutoRechargeSuspended(string Reason, DateTimeOffset At) : IAccountEvent;

// Payments (added funds and recharges)

/// <summary>
/// A card charge about to be sent to the gateway. Persisted before the call, with the key the
/// gateway deduplicates on, so a crash between the two resumes the same charge instead of making a
/// second one.
/// </summary>
public sealed record PaymentRequested(
    string PurchaseId,
    PurchaseKind Kind,
    string GatewayKey,
    string? ClientKey,
    decimal Amount,
    string Currency,
    string PaymentMethodId,
    string Token,
    int Attempt,
    DateTimeOffset At,
    string? InvoiceId = null) : IAccountEvent;

public sealed record PaymentSucceeded(string PurchaseId, string ChargeId, DateTimeOffset At) : IAccountEvent;

public sealed record PaymentFailed(string PurchaseId, string Code, string Message, DateTimeOffset At) : IAccountEvent;
