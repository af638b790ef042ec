using System.Data.Common;

namespace Metering.Projections;

/// <summary>
/// Where each projection stands: the journal ordering of the last event it committed, and that
/// event's journal timestamp (wall-clock ticks, as the journal writes them).
/// </summary>
public static class ProjectionOffsets
{
    public const string Table = "projection_offsets";

    public static string Schema =>
        $"CREATE TABLE IF NOT EXISTS {Table} (name TEXT NOT NULL PRIMARY KEY, ordering BIGINT NOT NULL, event_timestamp BIGINT NOT NULL)";

    public static async Task<long> ReadAsync(DbConnection connection, string name, CancellationToken ct)
    {
        await using var command = ReadStore.Command(connection, null, $"SELECT ordering FROM {Table} WHERE name = @name", ("@name", name));
        return await command.ExecuteScalarAsync(ct) is { } value and not DBNull ? Convert.ToInt64(value) : 0;
    }

    public static Task WriteAsync(DbConnection connection, DbTransaction transaction, string name, long ordering, long eventTimestamp, CancellationToken ct) =>
        ReadStore.ExecuteAsync(connection, transaction,
            $"INSERT INTO {Table} (name, ordering, event_timestamp) VALUES (@name, @ordering, @ts) " +
            "ON CONFLICT (name) DO UPDATE SET ordering = excluded.ordering, event_timestamp = excluded.event_timestamp",
            ct, ("@name", name), ("@ordering", ordering), ("@ts", eventTimestamp));
}
