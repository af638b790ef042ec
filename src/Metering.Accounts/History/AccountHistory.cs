using Metering.Accounts.Persistence;
using Metering.Domain.Accounts;
using Metering.Domain.Insights;
using Microsoft.Extensions.DependencyInjection;

namespace Metering.Accounts.History;

/// <summary>An account's whole journal and the account rebuilt from it as of an instant.</summary>
public sealed record AccountHistoryAt(IReadOnlyList<IAccountEvent> Journal, ReplayedAccount Replayed);

/// <summary>
/// Reads an account's journal (<c>account-{id}</c>) through <see cref="AccountJournal"/> and replays it
/// with <see cref="AccountReplay"/>. Snapshots are not used: they hold only the latest state, and
/// the insights need the state at other instants and the events themselves. The cost is one read of
/// the account's journal per call, so this serves on-demand questions, not hot paths.
/// </summary>
public sealed class AccountHistory(AccountJournal journal, AccountsOptions options)
{
    /// <summary>Every event the account persisted so far, in journal order; empty for an account never seen.</summary>
    public Task<IReadOnlyList<IAccountEvent>> EventsAsync(string accountId, CancellationToken ct) =>
        journal.EventsAsync(AccountActor.PersistenceIdFor(accountId), 0, long.MaxValue, ct);

    /// <summary>The journal, and the account as it stood at <paramref name="at"/>.</summary>
    public async Task<AccountHistoryAt> AtAsync(string accountId, DateTimeOffset at, CancellationToken ct)
    {
        var events = await EventsAsync(accountId, ct);
        return new AccountHistoryAt(events, AccountReplay.AsOf(accountId, options.Settings, events, at));
    }
}

public static class AccountHistoryExtensions
{
    /// <summary>Registers <see cref="AccountHistory"/>; needs <see cref="AccountJournal"/> (<c>AddMeteringAccountJournal</c>).</summary>
    public static IServiceCollection AddMeteringAccountHistory(this IServiceCollection services) =>
        services.AddSingleton<AccountHistory>();
}
