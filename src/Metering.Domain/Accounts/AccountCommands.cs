using Metering.Domain.Usage;

namespace Metering.Domain.Accounts;

/// <summary>What may be asked of an account; time always comes in with the command.</summary>
public interface IAccountCommand;

/// <summary>A consumed batch of usage events for one account, in Kafka order per partition.</summary>
public sealed record RecordUsage(IReadOnlyList<UsageRecord> Records, DateTimeOffset ReceivedAt) : IAccountCommand;
