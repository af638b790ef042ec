using Metering.Domain.Accounts;

namespace Metering.Accounts;

/// <summary>Engine settings for account actors (<c>Metering:Accounts:*</c>).</summary>
public sealed class AccountsOptions
{
    /// <summary>How long an event's CloudEvents (source, id) is remembered to drop producer retries.</summary>
    public TimeSpan DedupeWindow { get; set; } = AccountSettings.Default.DedupeWindow;

    /// <summary>Currency of new accounts' wallets.</summary>
    public string Currency { get; set; } = AccountSettings.Default.Currency;

    public AccountSettings Settings => new(DedupeWindow, Currency);

    /// <summary>A snapshot every N persisted events bounds recovery time after passivation or a crash.</summary>
    public int SnapshotEvery { get; set; } = 100;

    /// <summary>Idle accounts leave memory after this; the durable journal brings them back on demand.</summary>
    public TimeSpan PassivateAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long a caller waits for an account to persist and answer.</summary>
    public TimeSpan AskTimeout { get; set; } = TimeSpan.FromSeconds(30);
}
