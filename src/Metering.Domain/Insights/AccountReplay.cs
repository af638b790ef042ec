using Metering.Domain.Accounts;

namespace Metering.Domain.Insights;

/// <summary>An account rebuilt from its journal, and how many events that took.</summary>
public sealed record ReplayedAccount(Account Account, int EventsReplayed);

/// <summary>
/// Rebuilds an account as it stood at a past instant by applying its journal to a fresh account:
/// the same <see cref="Account.Apply"/> that recovery runs, so a past balance is computed by the
/// rules that produced it, not by a second implementation of them.
/// </summary>
public static class AccountReplay
{
    /// <summary>
    /// Applies, in journal order, every event whose time is at or before <paramref name="at"/>.
    /// Journal times are not strictly increasing (a renewal an account caught up with late carries
    /// the end of its period, which can be earlier than an event written before it), so the replay
    /// filters by time instead of stopping at the first later event.
    /// </summary>
    public static ReplayedAccount AsOf(string accountId, AccountSettings settings, IEnumerable<IAccountEvent> journal, DateTimeOffset at)
    {
        var account = new Account(accountId, settings);
        var replayed = 0;
        foreach (var e in journal)
        {
            if (e.At > at) continue;
            account.Apply(e);
            replayed++;
        }
        return new ReplayedAccount(account, replayed);
    }
}
