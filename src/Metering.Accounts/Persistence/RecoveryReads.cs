using System.Data.Common;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;

namespace Metering.Accounts.Persistence;

/// <summary>
/// What a recovering account reads from the journal (its highest sequence number, its events after
/// its snapshot, which <see cref="SnapshotReads"/> loads), as one parameterized statement each on the
/// tables Akka.Persistence.Sql writes (<see cref="JournalTables"/>). Through Akka.Persistence.Sql each of
/// these built its SQL anew with linq2db and ran in a transaction of its own (the replay through an
/// Akka stream): 10,000 accounts recovering took 15–17 s of the benchmark's restart
/// (docs/benchmarks.md, session 10). One statement needs no transaction: it reads one consistent
/// state on SQLite (WAL) and PostgreSQL alike. The statements run prepared, on <see cref="ReadSessions"/>.
/// </summary>
public sealed class RecoveryReads : IDisposable
{
    private readonly ReadSessions _sessions;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly string _highestSql;
    private readonly string _replaySql;

    /// <param name="journal">The journal plugin's configuration (<c>akka.persistence.journal.sql</c>).</param>
    public RecoveryReads(JournalDatabase database, Akka.Serialization.Serialization serialization, Config journal)
    {
        _sessions = new ReadSessions(database);
        _serialization = serialization;

        var (journalTable, column) = JournalTables.Table(journal, "journal");
        var writerUuid = JournalTables.UsesWriterUuid(journal) ? column("writer-uuid") : "NULL";
        var pid = column("persistence-id");
        var seq = column("sequence-number");
        // The highest number counts deleted rows: Akka.Persistence.Sql keeps the last deleted row for it.
        _highestSql = $"SELECT MAX({seq}) FROM {journalTable} WHERE {pid} = @pid AND {seq} > @from";
        _replaySql = $"""
            SELECT {seq}, {column("message")}, {column("identifier")}, {column("manifest")}, {writerUuid}, {column("created")}
            FROM {journalTable}
            WHERE {pid} = @pid AND {seq} >= @from AND {seq} <= @to AND {column("deleted")} = @deleted
            ORDER BY {seq} LIMIT @max
            """;
    }

    /// <summary>The highest sequence number stored after <paramref name="from"/>, 0 when there is none.</summary>
    public async Task<long> HighestSequenceNrAsync(string persistenceId, long from, CancellationToken ct)
    {
        await ThreadPoolHop.Leave(); // Microsoft.Data.Sqlite runs synchronously: not on the journal's actor
        return await _sessions.RunAsync(async session =>
        {
            var command = session.Statement(_highestSql, ("@pid", persistenceId), ("@from", from));
            return await command.ExecuteScalarAsync(ct) is { } value and not DBNull ? Convert.ToInt64(value) : 0;
        }, ct);
    }

    /// <summary>The events from <paramref name="from"/> to <paramref name="to"/> (at most <paramref name="max"/>), in order, to <paramref name="replayed"/>.</summary>
    public async Task ReplayAsync(string persistenceId, long from, long to, long max, Action<IPersistentRepresentation> replayed, CancellationToken ct = default)
    {
        await ThreadPoolHop.Leave();
        await _sessions.RunAsync(async session =>
        {
            var command = session.Statement(_replaySql, ("@pid", persistenceId), ("@from", from), ("@to", to), ("@deleted", false), ("@max", max));
            await using var reader = await command.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) Replay(reader);
            return true;
        }, ct);

        void Replay(DbDataReader reader)
        {
            var manifest = JournalTables.Manifest(reader, 3);
            replayed(new Persistent(
                payload: JournalTables.Payload(_serialization, reader, 1, 2, manifest, persistenceId),
                sequenceNr: reader.GetInt64(0),
                persistenceId: persistenceId,
                manifest: manifest,
                isDeleted: false,
                sender: ActorRefs.NoSender,
                writerGuid: reader.IsDBNull(4) ? null : reader.GetString(4),
                timestamp: reader.GetInt64(5)));
        }
    }

    public void Dispose() => _sessions.Dispose();
}
