namespace Metering.Domain.Accounts;

/// <param name="DedupeWindow">How long a CloudEvents (source, id) is remembered to drop producer retries.</param>
/// <param name="Currency">ISO 4217 code of the wallet.</param>
public sealed record AccountSettings(TimeSpan DedupeWindow, string Currency)
{
    public static AccountSettings Default { get; } = new(TimeSpan.FromHours(24), "USD");
}
