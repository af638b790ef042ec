namespace Metering.Accounts.Scheduling;

/// <summary>Messages of the due-date schedule; bound to <see cref="Serialization.AccountSerializer"/>.</summary>
public interface IAccountScheduleMessage;

/// <summary>An account's next due moment (renewal, reminder), or null when nothing is due.</summary>
public sealed record ScheduleAccount(string AccountId, DateTimeOffset? DueAt) : IAccountScheduleMessage;

/// <summary>Persisted when an account's due moment changes.</summary>
public sealed record AccountScheduled(string AccountId, DateTimeOffset? DueAt) : IAccountScheduleMessage;

public sealed record AccountScheduleSnapshot(IReadOnlyDictionary<string, DateTimeOffset> Due) : IAccountScheduleMessage;
