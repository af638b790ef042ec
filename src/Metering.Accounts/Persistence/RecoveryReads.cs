using System.Data.Common;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;

namespace Metering.Accounts.Persistence;

/// <summary>
/// What a recovering account reads (its latest snapshot, its highest sequence number, its events
/// after the snapshot), as one parameterized statement each on the tables Akka.Persistence.Sql
/// writes (<see cref="JournalTables"/>). Through Akka.Persistence.Sql each of
/// these built its SQL anew with linq2db and ran in a transaction of its own (the replay through an
/// Akka stream): 10,000 accounts recovering took 15–17 s of the benchmark's restart
/// (docs/benchmarks.md, session 10). One statement needs no transaction: it reads one consistent
/// state on SQLite (WAL) and PostgreSQL alike.
/// </summary>
public sealed class RecoveryReads
{
    private readonly JournalDatabase _database;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly string _highestSql;
    private readonly string _replaySql;
    private readonly string _latestSnapshotSql;

    /// <param name="journal">The journal plugin's configuration (<c>akka.persistence.journal.sql</c>).</param>
    /// <param name="snapshots">The snapshot store's configuration (<c>akka.persistence.snapshot-store.sql</c>).</param>
    public RecoveryReads(JournalDatabase database, Akka.Serialization.Serialization serialization, Config journal, Config snapshots)
    {
        _database = database;
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

        var (snapshotTable, snapshotColumn) = JournalTables.Table(snapshots, "snapshot");
        _latestSnapshotSql = $"""
            SELECT {snapshotColumn("sequence-number")}, {snapshotColumn("created")}, {snapshotColumn("snapshot")}, {snapshotColumn("manifest")}, {snapshotColumn("serializerId")}
            FROM {snapshotTable}
            WHERE {snapshotColumn("persistence-id")} = @pid
            ORDER BY {snapshotColumn("sequence-number")} DESC LIMIT 1
            """;
    }

    /// <summary>The highest sequence number stored after <paramref name="from"/>, 0 when there is none.</summary>
    public async Task<long> HighestSequenceNrAsync(string persistenceId, long from, CancellationToken ct)
    {
        await ThreadPoolHop.Leave(); // Microsoft.Data.Sqlite runs synchronously: not on the journal's actor
        await using var connection = await _database.OpenAsync(ct);
        await using var command = JournalDatabase.Command(connection, null, _highestSql, ("@pid", persistenceId), ("@from", from));
        return await command.ExecuteScalarAsync(ct) is { } value and not DBNull ? Convert.ToInt64(value) : 0;
    }

    /// <summary>The events from <paramref name="from"/> to <paramref name="to"/> (at most <paramref name="max"/>), in order, to <paramref name="replayed"/>.</summary>
    public async Task ReplayAsync(string persistenceId, long from, long to, long max, Action<IPersistentRepresentation> replayed)
    {
        await ThreadPoolHop.Leave();
        await using var connection = await _database.OpenAsync(CancellationToken.None);
        await using var command = JournalDatabase.Command(connection, null, _replaySql,
            ("@pid", persistenceId), ("@from", from), ("@to", to), ("@deleted", false), ("@max", max));
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            var manifest = reader.IsDBNull(3) ? string.Empty : reader.GetString(3);
            replayed(new Persistent(
                payload: Payload(reader, 1, 2, manifest, persistenceId),
                sequenceNr: reader.GetInt64(0),
                persistenceId: persistenceId,
                manifest: manifest,
                isDeleted: false,
                sender: ActorRefs.NoSender,
                writerGuid: reader.IsDBNull(4) ? null : reader.GetString(4),
                timestamp: reader.GetInt64(5)));
        }
    }

    /// <summary>The snapshot with the highest sequence number, or null.</summary>
    public async Task<SelectedSnapshot?> LatestSnapshotAsync(string persistenceId, CancellationToken ct)
    {
        await ThreadPoolHop.Leave();
        await using var connection = await _database.OpenAsync(ct);
        await using var command = JournalDatabase.Command(connection, null, _latestSnapshotSql, ("@pid", persistenceId));
        await using var reader = await command.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return null;
        var metadata = new SnapshotMetadata(persistenceId, reader.GetInt64(0), new DateTime(reader.GetInt64(1)));
        return new SelectedSnapshot(metadata, Payload(reader, 2, 4, reader.IsDBNull(3) ? string.Empty : reader.GetString(3), persistenceId));
    }

    /// <summary>
    /// Deserializes with the serializer the row names. Akka.Persistence.Sql has always written it; a
    /// row without one (a journal from before serializer ids) is refused rather than guessed at.
    /// </summary>
    private object Payload(DbDataReader reader, int bytesColumn, int serializerColumn, string manifest, string persistenceId) =>
        reader.IsDBNull(serializerColumn)
            ? throw new InvalidOperationException($"A row of {persistenceId} names no serializer; this engine reads only rows that do.")
            : _serialization.Deserialize((byte[])reader.GetValue(bytesColumn), reader.GetInt32(serializerColumn), manifest);
}
