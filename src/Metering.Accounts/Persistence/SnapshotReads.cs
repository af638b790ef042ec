using Akka.Configuration;
using Akka.Persistence;

namespace Metering.Accounts.Persistence;

/// <summary>
/// The snapshot every recovery loads first, the latest, as one parameterized statement on the table
/// Akka.Persistence.Sql writes (<see cref="JournalTables"/>), prepared, on <see cref="ReadSessions"/>; the
/// journal's side is <see cref="RecoveryReads"/>.
/// </summary>
public sealed class SnapshotReads : IDisposable
{
    private readonly ReadSessions _sessions;
    private readonly Akka.Serialization.Serialization _serialization;
    private readonly string _latestSql;

    /// <param name="snapshots">The snapshot store's configuration (<c>akka.persistence.snapshot-store.sql</c>).</param>
    public SnapshotReads(JournalDatabase database, Akka.Serialization.Serialization serialization, Config snapshots)
    {
        _sessions = new ReadSessions(database);
        _serialization = serialization;
        var (table, column) = JournalTables.Table(snapshots, "snapshot");
        _latestSql = $"""
            SELECT {column("sequence-number")}, {column("created")}, {column("snapshot")}, {column("manifest")}, {column("serializerId")}
            FROM {table}
            WHERE {column("persistence-id")} = @pid
            ORDER BY {column("sequence-number")} DESC LIMIT 1
            """;
    }

    /// <summary>The snapshot with the highest sequence number, or null.</summary>
    public async Task<SelectedSnapshot?> LatestAsync(string persistenceId, CancellationToken ct)
    {
        await ThreadPoolHop.Leave(); // Microsoft.Data.Sqlite runs synchronously: not on the snapshot store's actor
        return await _sessions.RunAsync(async session =>
        {
            await using var reader = await session.Statement(_latestSql, ("@pid", persistenceId)).ExecuteReaderAsync(ct);
            if (!await reader.ReadAsync(ct)) return null;
            var metadata = new SnapshotMetadata(persistenceId, reader.GetInt64(0), new DateTime(reader.GetInt64(1)));
            return new SelectedSnapshot(metadata,
                JournalTables.Payload(_serialization, reader, 2, 4, JournalTables.Manifest(reader, 3), persistenceId));
        }, ct);
    }

    public void Dispose() => _sessions.Dispose();
}
