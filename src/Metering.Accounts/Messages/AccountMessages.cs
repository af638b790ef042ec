using Akka.Actor;
using Metering.Domain.Accounts;
using Metering.Domain.Payments;
using Metering.Domain.Plans;
using Metering.Domain.Usage;

namespace Metering.Accounts.Messages;

/// <summary>Routes a message to its account's shard and entity.</summary>
public interface IWithAccountId
{
    string AccountId { get; }
}

/// <summary>Every message that crosses the cluster to or from an account; bound to <see cref="Serialization.AccountSerializer"/>.</summary>
public interface IAccountMessage : IWithAccountId;

// Usage

/// <summary>A consumed Kafka batch for one account. Answered with <see cref="UsageAccepted"/> once persisted.</summary>
/// <param name="TraceParent">W3C <c>traceparent</c> of the sender's span, so the account's persist joins its trace on any node.</param>
/// <param name="Committed">The consumer group's committed offsets when the batch was read (see <see cref="RecordUsage.Committed"/>).</param>
public sealed record RecordAccountUsage(string AccountId, IReadOnlyList<UsageRecord> Records, string? TraceParent = null, IReadOnlyList<KafkaPosition>? Committed = null) : IAccountMessage;

/// <summary>Answer to <see cref="RecordAccountUsage"/>: the batch is durable (or was all redelivery).</summary>
/// <param name="Deferred">A <see cref="UsageApplied"/> for the batch came first (write-behind).</param>
public sealed record UsageAccepted(string AccountId, int Accepted, int Duplicates, int Redelivered, bool Deferred = false) : IAccountMessage;

/// <summary>
/// Asks an account to write the usage it applied ahead of its journal now rather than at the end of
/// its interval (<see cref="AccountsOptions.WriteBehind"/>): the consumer sends it when the stream goes
/// quiet or it stops, so offsets are committed without waiting for the interval. Nothing to write: nothing happens.
/// </summary>
public sealed record WriteUsageNow(string AccountId) : IAccountMessage;

/// <summary>
/// First answer to <see cref="RecordAccountUsage"/> under write-behind (<see cref="AccountsOptions.WriteBehind"/>): the
/// account applied the batch, so its balance reflects it; <see cref="UsageAccepted"/> follows once it is durable.
/// </summary>
public sealed record UsageApplied(string AccountId) : IAccountMessage;

// Billing commands, answered with AccountCommandResult once persisted

public sealed record SubscribeAccount(string AccountId, Plan Plan, string? Team) : IAccountMessage;

public sealed record CancelAccountSubscription(string AccountId, string SubscriptionId, bool AtPeriodEnd) : IAccountMessage;

public sealed record UpdateAccountPreferences(string AccountId, Preferences Preferences) : IAccountMessage;

/// <summary>A card already tokenized by the gateway: the number and CVC never reach an actor.</summary>
public sealed record AddAccountPaymentMethod(string AccountId, PaymentCard Card, bool MakeDefault) : IAccountMessage;

public sealed record RemoveAccountPaymentMethod(string AccountId, string PaymentMethodId) : IAccountMessage;

public sealed record SetAccountDefaultPaymentMethod(string AccountId, string PaymentMethodId) : IAccountMessage;

public sealed record ConfigureAccountAutoRecharge(string AccountId, AutoRechargeSettings Settings) : IAccountMessage;

public sealed record VoidAccountInvoice(string AccountId, string InvoiceId) : IAccountMessage;

public sealed record MarkAccountInvoiceUncollectible(string AccountId, string InvoiceId) : IAccountMessage;

public sealed record AccountCommandResult(string AccountId, Outcome Outcome) : IAccountMessage;

/// <summary>Answered with <see cref="FundsResult"/> once the gateway answered (or at once for a known key).</summary>
public sealed record AddAccountFunds(string AccountId, decimal Amount, string? PaymentMethodId, string IdempotencyKey) : IAccountMessage;

public sealed record FundsResult(string AccountId, Purchase? Purchase, Refusal? Refusal) : IAccountMessage;

/// <summary>From the due-date schedule: time for this account to renew or remind (any message would do; this one says why).</summary>
public sealed record WakeAccount(string AccountId) : IAccountMessage;

/// <summary>
/// How the shard stops an account for a hand-off or passivation (its hand-off stop message), sent on
/// the node. A PoisonPill would stop the account at once, dropping the commands it stashed while a
/// write was in flight and the answers still to come: their senders would wait for their Ask timeout.
/// </summary>
public sealed class StopAccount : INoSerializationVerificationNeeded
{
    public static readonly StopAccount Instance = new();

    private StopAccount()
    {
    }
}

// Queries

/// <summary>Asks for the account's current numbers. An account never seen answers zeros.</summary>
public sealed record GetAccountOverview(string AccountId) : IAccountMessage;

/// <summary>The account as it stands, read from the live actor (never stale).</summary>
public sealed record AccountOverview(
    string AccountId,
    string Currency,
    decimal Balance,
    decimal PendingBalance,
    DateTimeOffset? CycleStart,
    DateTimeOffset? CycleEnd,
    IReadOnlyDictionary<string, decimal> Usage,
    long EventsProcessed,
    long DuplicatesDropped,
    DateTimeOffset? LastUsageAt,
    AutoRechargeSettings AutoRecharge,
    string? AutoRechargeSuspendedReason,
    IReadOnlyList<SubscriptionSnapshot> ActivePlans,
    Purchase? LastPurchase,
    DateTimeOffset AsOf) : IAccountMessage;

public sealed record GetAccountSubscriptions(string AccountId) : IAccountMessage;

public sealed record AccountSubscriptions(string AccountId, IReadOnlyList<SubscriptionSnapshot> Subscriptions) : IAccountMessage;

public sealed record GetAccountPaymentMethods(string AccountId) : IAccountMessage;

public sealed record AccountPaymentMethods(string AccountId, IReadOnlyList<PaymentMethod> Methods, string? DefaultPaymentMethodId) : IAccountMessage;

public sealed record GetAccountInvoices(string AccountId) : IAccountMessage;

public sealed record AccountInvoices(string AccountId, IReadOnlyList<Invoice> Invoices) : IAccountMessage;

public sealed record GetAccountPreferences(string AccountId) : IAccountMessage;

public sealed record AccountPreferences(string AccountId, Preferences Preferences) : IAccountMessage;
