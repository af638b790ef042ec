using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Sql.Journal;

namespace Metering.Accounts.Persistence;

/// <summary>
/// Akka.Persistence.Sql's journal (its tables, their creation, deletes, the circuit breaker) with the
/// two hot paths made plainly: writes by <see cref="JournalWrites"/> and a recovering account's reads
/// by <see cref="RecoveryReads"/>, one prepared statement per row or read instead of SQL that linq2db
/// builds for each call.
/// </summary>
public sealed class MeteringSqlJournal : SqlWriteJournal
{
    private readonly RecoveryReads _reads;
    private readonly JournalWrites _writes;

    /// <summary>Each persistence id's write in flight: its highest sequence number is read only after it (as the base journal does).</summary>
    private readonly ConcurrentDictionary<string, Task> _writing = new(StringComparer.Ordinal);

    /// <summary>
    /// The plugin settings (inside <c>akka.persistence.journal.sql</c>) that make the journal this class,
    /// with Akka's replay filter off. The filter discards replayed events it takes for an old writer's;
    /// here the table's unique (persistence id, sequence number) index already lets one writer have each
    /// sequence number. And journals written before rows carried the incarnation's writer id hold one id
    /// per node, which the filter misreads when an account moved away and back (its later events dropped).
    /// Off, a recovery also no longer runs through a filter actor of its own.
    /// </summary>
    public static string PluginSettings => $"""
        class = "{typeof(MeteringSqlJournal).AssemblyQualifiedName}"
        replay-filter.mode = off
        """;

    public MeteringSqlJournal(Config journalConfig) : base(journalConfig)
    {
        var database = JournalDatabase.ForPlugin(journalConfig);
        _reads = new RecoveryReads(database, Context.System.Serialization, journalConfig);
        _writes = new JournalWrites(database, (ExtendedActorSystem)Context.System, journalConfig);
    }

    protected override void PostStop()
    {
        _writes.Complete();
        _reads.Dispose();
        base.PostStop();
    }

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var writes = messages as IReadOnlyList<AtomicWrite> ?? messages.ToList();
        // A batch of deferred handlers alone has nothing to write (the base journal failed on it).
        if (writes.Count == 0) return Task.FromResult<IImmutableList<Exception>>(null!);
        var written = _writes.WriteAsync(writes);
        var persistenceId = writes[0].PersistenceId;
        _writing[persistenceId] = written;
        written.ContinueWith(
            (done, id) => _writing.TryRemove(new KeyValuePair<string, Task>((string)id!, done)),
            persistenceId, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return written;
    }

    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        // Whether that write succeeded or not, the number is read after it.
        if (_writing.TryGetValue(persistenceId, out var write))
            await write.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return await _reads.HighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken);
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback) =>
        _reads.ReplayAsync(persistenceId, fromSequenceNr, toSequenceNr, max, recoveryCallback);
}
