using Metering.Domain.Payments;
using Metering.Domain.Plans;
using Metering.Domain.Usage;

namespace Metering.Domain.Accounts;

/// <summary>What may be asked of an account; time always comes in with the command.</summary>
public interface IAccountCommand
{
    DateTimeOffset At { get; }
}

/// <summary>A consumed batch of usage events for one account, in Kafka order per partition.</summary>
/// <param name="Committed">The consumer group's committed offset per partition when the batch was
/// read: every record below it is durable in its account. Null or missing: nothing is known.</param>
public sealed record RecordUsage(IReadOnlyList<UsageRecord> Records, DateTimeOffset At, IReadOnlyList<KafkaPosition>? Committed = null) : IAccountCommand;

/// <summary>Subscribe to a plan, as the catalog has it now (the subscription keeps this copy).</summary>
public sealed record Subscribe(Plan Plan, string? Team, DateTimeOffset At) : IAccountCommand;

public sealed record CancelSubscription(string SubscriptionId, bool AtPeriodEnd, DateTimeOffset At) : IAccountCommand;

/// <summary>Time has come: renew what is due, issue its invoices, send due reminders.</summary>
public sealed record AdvanceClock(DateTimeOffset At) : IAccountCommand;

public sealed record UpdatePreferences(Preferences Preferences, DateTimeOffset At) : IAccountCommand;

/// <summary>A card the gateway already tokenized: only safe fields and the token reach the account.</summary>
public sealed record AddPaymentMethod(PaymentCard Card, bool MakeDefault, DateTimeOffset At) : IAccountCommand;

public sealed record RemovePaymentMethod(string PaymentMethodId, DateTimeOffset At) : IAccountCommand;

public sealed record SetDefaultPaymentMethod(string PaymentMethodId, DateTimeOffset At) : IAccountCommand;

public sealed record ConfigureAutoRecharge(AutoRechargeSettings Settings, DateTimeOffset At) : IAccountCommand;

/// <summary>Add funds by card; <paramref name="IdempotencyKey"/> makes a retried request add once.</summary>
public sealed record AddFunds(decimal Amount, string? PaymentMethodId, string IdempotencyKey, DateTimeOffset At) : IAccountCommand;

/// <summary>The gateway's answer to a <see cref="PaymentRequested"/>.</summary>
public sealed record RecordPaymentResult(string PurchaseId, bool Succeeded, string? ChargeId, string? FailureCode, string? FailureMessage, DateTimeOffset At) : IAccountCommand;

/// <summary>Cancel an open invoice (issued by mistake): what is still due stops being owed.</summary>
public sealed record VoidInvoice(string InvoiceId, DateTimeOffset At) : IAccountCommand;

/// <summary>Give up collecting an open invoice: no more reminders; it stays owed.</summary>
public sealed record MarkInvoiceUncollectible(string InvoiceId, DateTimeOffset At) : IAccountCommand;

/// <summary>Time to try a failed recharge again (sent by the actor's backoff timer).</summary>
public sealed record RetryRecharge(DateTimeOffset At) : IAccountCommand;
