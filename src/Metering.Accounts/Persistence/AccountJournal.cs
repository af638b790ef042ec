using Akka.Actor;
using Metering.Domain.Accounts;
using Microsoft.Extensions.DependencyInjection;

namespace Metering.Accounts.Persistence;

/// <summary>
/// One account's events, read from the journal table with the statement a recovery uses
/// (<see cref="RecoveryReads"/>): for the billing lists' folds and the insights. Akka.Persistence.Sql's
/// read journal answered these before, but creating it starts its sequence actor, which reads every
/// new ordering of the journal once a second for the queries by ordering. On SQLite nothing asks
/// those (<see cref="JournalFeed"/>), and that actor alone allocated about 2 % of a warm engine's bytes
/// (docs/benchmarks.md, session 18).
/// </summary>
public sealed class AccountJournal : IDisposable
{
    private readonly RecoveryReads _reads;

    public AccountJournal(ActorSystem system)
    {
        var journal = JournalTables.JournalPlugin(system);
        _reads = new RecoveryReads(JournalDatabase.ForPlugin(journal), system.Serialization, journal);
    }

    /// <summary>The events numbered <paramref name="from"/> to <paramref name="to"/>, in order; deleted ones left out.</summary>
    public async Task<IReadOnlyList<IAccountEvent>> EventsAsync(string persistenceId, long from, long to, CancellationToken ct)
    {
        var events = new List<IAccountEvent>();
        await _reads.ReplayAsync(persistenceId, from, to, long.MaxValue, e => events.Add((IAccountEvent)e.Payload), ct);
        return events;
    }

    public void Dispose() => _reads.Dispose();
}

public static class AccountJournalExtensions
{
    /// <summary>Registers <see cref="AccountJournal"/>, disposed with the host; needs the actor system with the SQL persistence of <c>AddMeteringPersistence</c>.</summary>
    public static IServiceCollection AddMeteringAccountJournal(this IServiceCollection services) =>
        services.AddSingleton<AccountJournal>();
}
