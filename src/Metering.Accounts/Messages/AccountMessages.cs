using Metering.Domain.Usage;

namespace Metering.Accounts.Messages;

/// <summary>Routes a message to its account's shard and entity.</summary>
public interface IWithAccountId
{
    string AccountId { get; }
}

/// <summary>Every message that crosses the cluster to or from an account; bound to <see cref="Serialization.AccountSerializer"/>.</summary>
public interface IAccountMessage : IWithAccountId;

// Commands

/// <summary>A consumed Kafka batch for one account. Answered with <see cref="UsageAccepted"/> once persisted.</summary>
public sealed record RecordAccountUsage(string AccountId, IReadOnlyList<UsageRecord> Records) : IAccountMessage;

/// <summary>Answer to <see cref="RecordAccountUsage"/>: the batch is durable (or was all redelivery).</summary>
public sealed record UsageAccepted(string AccountId, int Accepted, int Duplicates, int Redelivered) : IAccountMessage;

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
    DateTimeOffset AsOf) : IAccountMessage;
