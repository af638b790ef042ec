using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Metering.Domain.Accounts;
using Metering.Domain.Insights;
using Microsoft.Extensions.DependencyInjection;

namespace Metering.Accounts.History;

/// <summary>An account's whole journal and the account rebuilt from it as of an instant.</summary>
public sealed record AccountHistoryAt(IReadOnlyList<IAccountEvent> Journal, ReplayedAccount Replayed);

/// <summary>
/// Reads an account's journal (<c>account-{id}</c>) through the SQL read journal and replays it
/// with <see cref="AccountReplay"/>. Snapshots are not used: they hold only the latest state, and
/// the insights need the state at other instants and the events themselves. The cost is one read of
/// the account's journal per call, so this serves on-demand questions, not hot paths.
/// </summary>
public sealed class AccountHistory(ActorSystem system, AccountsOptions options)
{
    private readonly SqlReadJournal _journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);

    /// <summary>Every event the account persisted so far, in journal order; empty for an account never seen.</summary>
    public async Task<IReadOnlyList<IAccountEvent>> EventsAsync(string accountId, CancellationToken ct)
    {
        var (kill, events) = _journal.CurrentEventsByPersistenceId(AccountActor.PersistenceIdFor(accountId), 0, long.MaxValue)
            .Select(e => (IAccountEvent)e.Event)
            .ViaMaterialized(KillSwitches.Single<IAccountEvent>(), Keep.Right)
            .ToMaterialized(Sink.Seq<IAccountEvent>(), Keep.Both)
            .Run(system.Materializer());
        await using var _ = ct.Register(() => kill.Abort(new OperationCanceledException(ct)));
        return await events;
    }

    /// <summary>The journal, and the account as it stood at <paramref name="at"/>.</summary>
    public async Task<AccountHistoryAt> AtAsync(string accountId, DateTimeOffset at, CancellationToken ct)
    {
        var journal = await EventsAsync(accountId, ct);
        return new AccountHistoryAt(journal, AccountReplay.AsOf(accountId, options.Settings, journal, at));
    }
}

public static class AccountHistoryExtensions
{
    /// <summary>Registers <see cref="AccountHistory"/>; needs the actor system (Akka.Hosting) with the SQL persistence of <c>AddMeteringPersistence</c>.</summary>
    public static IServiceCollection AddMeteringAccountHistory(this IServiceCollection services) =>
        services.AddSingleton<AccountHistory>();
}
