namespace Metering.Domain.Accounts;

/// <param name="DedupeWindow">How long a CloudEvents (source, id) is remembered to drop producer retries.</param>
/// <param name="Currency">ISO 4217 code of the wallet.</param>
/// <param name="MaxRechargeAttempts">Failed recharges in a row before auto-recharge is suspended.</param>
/// <param name="RechargeRetryBackoff">Wait before the first retry of a failed recharge; doubles each time.</param>
/// <param name="RechargeDailyCap">Most recharge attempts in one UTC day: a runaway stops here.</param>
/// <param name="MaxPaymentAmount">Largest single added-funds or recharge amount.</param>
public sealed record AccountSettings(
    TimeSpan DedupeWindow,
    string Currency,
    int MaxRechargeAttempts = 3,
    TimeSpan? RechargeRetryBackoff = null,
    int RechargeDailyCap = 5,
    decimal MaxPaymentAmount = 100_000m)
{
    public static AccountSettings Default { get; } = new(TimeSpan.FromHours(24), "USD");

    public TimeSpan RetryBackoff => RechargeRetryBackoff ?? TimeSpan.FromSeconds(30);

    /// <summary>Wait after the n-th failure in a row: backoff, 2×, 4×, …</summary>
    public TimeSpan BackoffAfter(int failures) => TimeSpan.FromTicks(RetryBackoff.Ticks << Math.Clamp(failures - 1, 0, 16));
}
