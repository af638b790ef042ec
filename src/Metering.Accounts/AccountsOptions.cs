using Metering.Domain.Accounts;

namespace Metering.Accounts;

/// <summary>Engine settings for account actors (<c>Metering:Accounts:*</c>).</summary>
public sealed class AccountsOptions
{
    /// <summary>How long an event's CloudEvents (source, id) is remembered to drop producer retries.</summary>
    public TimeSpan DedupeWindow { get; set; } = AccountSettings.Default.DedupeWindow;

    /// <summary>Currency of new accounts' wallets.</summary>
    public string Currency { get; set; } = AccountSettings.Default.Currency;

    /// <summary>Failed recharges in a row before auto-recharge is suspended.</summary>
    public int MaxRechargeAttempts { get; set; } = AccountSettings.Default.MaxRechargeAttempts;

    /// <summary>Wait before retrying a failed recharge; doubles each time.</summary>
    public TimeSpan RechargeRetryBackoff { get; set; } = AccountSettings.Default.RetryBackoff;

    /// <summary>Most recharge attempts per account per UTC day.</summary>
    public int RechargeDailyCap { get; set; } = AccountSettings.Default.RechargeDailyCap;

    public AccountSettings Settings => new(DedupeWindow, Currency, MaxRechargeAttempts, RechargeRetryBackoff, RechargeDailyCap);

    /// <summary>A snapshot every N persisted events bounds recovery time after passivation or a crash.</summary>
    public int SnapshotEvery { get; set; } = 100;

    /// <summary>Idle accounts leave memory after this; the durable journal brings them back on demand.</summary>
    public TimeSpan PassivateAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often the due-date schedule looks for accounts to wake.</summary>
    public TimeSpan ScheduleTick { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long an account may run ahead of its journal with usage. Zero (the default): each consumed
    /// batch is written before the account answers. Above zero: the account applies a batch and answers
    /// at once that its balance reflects it, and writes what it applied within this long, in one
    /// write; the consumer commits its offsets only after that write, so a crash loses nothing Kafka
    /// does not still hold, and anything with an effect outside (a charge, a notification, an answer to
    /// a command) is written after the usage still unwritten (docs/architecture.md).
    /// </summary>
    public TimeSpan WriteBehind { get; set; } = TimeSpan.Zero;

    /// <summary>How long a caller waits for an account to persist and answer.</summary>
    public TimeSpan AskTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Refuses settings that cannot work together, naming them.</summary>
    public void Validate()
    {
        // An account that writes behind answers a batch as durable only after the write: a consumer
        // that gives up on silent accounts before then would read every batch again.
        if (WriteBehind > AskTimeout / 2)
            throw new InvalidOperationException(
                $"Metering:Accounts:WriteBehind ({WriteBehind}) must be at most half of Metering:Accounts:AskTimeout ({AskTimeout}): a batch whose accounts have not written it by the ask timeout is read again.");
    }
}
