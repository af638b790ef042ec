using Metering.Domain.Payments;
using Metering.Domain.Plans;

namespace Metering.Domain.Accounts;

/// <summary>Why a command was refused: <see cref="Code"/> is stable, <see cref="Message"/> is for people.</summary>
public sealed record Refusal(string Code, string Message);

/// <summary>The answer to a command: the id it created or touched, or why it was refused.</summary>
public sealed record Outcome(string? Id = null, Refusal? Refusal = null)
{
    public static Outcome Refused(string code, string message) => new(null, new Refusal(code, message));
}

public enum SubscriptionStatus { Active, Canceled, Ended }

/// <summary>What a card charge is for: added funds, an auto-recharge (both credit the wallet), or a renewal invoice paid by card.</summary>
public enum PurchaseKind { Funds, Recharge, Renewal }

public enum PurchaseStatus { Pending, Succeeded, Failed }

/// <summary>A card on file. Never holds the number or CVC: only the gateway's token and what may be shown.</summary>
public sealed record PaymentMethod(string Id, PaymentCard Card, DateTimeOffset AddedAt);

/// <param name="Enabled">Whether the wallet is topped up automatically.</param>
/// <param name="Threshold">A recharge is requested when the balance falls under this.</param>
/// <param name="Amount">What one recharge adds.</param>
/// <param name="PaymentMethodId">Card to charge; the default card when null.</param>
public sealed record AutoRechargeSettings(bool Enabled, decimal Threshold, decimal Amount, string? PaymentMethodId)
{
    public static AutoRechargeSettings Off { get; } = new(false, 0, 0, null);
}

/// <summary>A subscription to a plan, with what it drew and charged in its current period.</summary>
public sealed class Subscription(string id, Plan plan, string? team, DateTimeOffset startedAt, DateTimeOffset periodStart, DateTimeOffset periodEnd)
{
    public string Id { get; } = id;
    public Plan Plan { get; } = plan;
    public string? Team { get; } = team;
    public DateTimeOffset StartedAt { get; } = startedAt;
    public DateTimeOffset PeriodStart { get; internal set; } = periodStart;
    public DateTimeOffset PeriodEnd { get; internal set; } = periodEnd;
    public SubscriptionStatus Status { get; internal set; } = SubscriptionStatus.Active;
    /// <summary>Ends instead of renewing when the current period is over.</summary>
    public bool CancelAtPeriodEnd { get; internal set; }
    /// <summary>Every period so far, oldest first, with the invoice that opened it.</summary>
    public List<SubscriptionPeriod> Periods { get; } = [];
    public DateTimeOffset? EndedAt { get; internal set; }
    /// <summary>Quota used this period, per meter.</summary>
    public Dictionary<string, decimal> Used { get; } = new(StringComparer.Ordinal);
    /// <summary>Overage quantity this period, per meter (the cumulative quantity rating is based on).</summary>
    public Dictionary<string, decimal> Overage { get; } = new(StringComparer.Ordinal);
    /// <summary>Overage charged this period, per meter.</summary>
    public Dictionary<string, decimal> Charged { get; } = new(StringComparer.Ordinal);

    public decimal Included(string meter) => Plan.QuotaOf(meter);
    public decimal Remaining(string meter) => Math.Max(0, Included(meter) - Used.GetValueOrDefault(meter));

    public SubscriptionSnapshot ToSnapshot() => new(
        Id, Plan, Team, StartedAt, PeriodStart, PeriodEnd, Status, EndedAt,
        new Dictionary<string, decimal>(Used), new Dictionary<string, decimal>(Overage), new Dictionary<string, decimal>(Charged),
        CancelAtPeriodEnd, Periods.ToArray());
}

/// <summary>A card charge for added funds, a recharge or a renewal invoice, and how it ended.</summary>
/// <param name="InvoiceId">The invoice a <see cref="PurchaseKind.Renewal"/> charge pays.</param>
public sealed record Purchase(
    string Id,
    PurchaseKind Kind,
    string GatewayKey,
    string? ClientKey,
    decimal Amount,
    string Currency,
    string PaymentMethodId,
    string Token,
    int Attempt,
    DateTimeOffset RequestedAt,
    PurchaseStatus Status = PurchaseStatus.Pending,
    string? ChargeId = null,
    string? FailureCode = null,
    string? FailureMessage = null,
    DateTimeOffset? CompletedAt = null,
    string? InvoiceId = null)
{
    public string Description => Kind switch
    {
        PurchaseKind.Funds => "Funds added",
        PurchaseKind.Recharge => "Auto-recharge",
        _ => $"Renewal invoice {InvoiceId} by card",
    };
}

/// <summary>A money movement on the wallet, newest last.</summary>
public sealed record LedgerEntry(string Id, DateTimeOffset At, string Kind, string Description, decimal Amount, decimal BalanceAfter, decimal PendingAfter);
