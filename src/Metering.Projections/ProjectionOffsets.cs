using Metering.Accounts.Persistence;
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
        await using var command = JournalDatabase.Command(connection, null, $"SELECT ordering FROM {Table} WHERE name = @name", ("@name", name));
        return await command.ExecuteScalarAsync(ct) is { } value and not DBNull ? Convert.ToInt64(value) : 0;
    }

    /// <summary>
    /// Moves the offset from <paramref name="expected"/> to <paramref name="ordering"/>, or throws when
    /// it is no longer at <paramref name="expected"/>: a projector whose singleton moved on (a batch
    /// still in flight on the old node) or whose rows were emptied by a rebuild must not commit, so
    /// its transaction is rolled back.
    /// </summary>
    public static async Task AdvanceAsync(DbConnection connection, DbTransaction transaction, string name, long expected, long ordering, long eventTimestamp, CancellationToken ct)
    {
        await using var update = JournalDatabase.Command(connection, transaction,
            $"UPDATE {Table} SET ordering = @ordering, event_timestamp = @ts WHERE name = @name AND ordering = @expected",
            ("@name", name), ("@ordering", ordering), ("@ts", eventTimestamp), ("@expected", expected));
        if (await update.ExecuteNonQueryAsync(ct) == 1) return;
        if (expected == 0)
        {
            // The first commit; another projector's first commit got there before if the row exists.
            await using var insert = JournalDatabase.Command(connection, transaction,
                $"INSERT INTO {Table} (name, ordering, event_timestamp) VALUES (@name, @ordering, @ts) ON CONFLICT (name) DO NOTHING",
                ("@name", name), ("@ordering", ordering), ("@ts", eventTimestamp));
            if (await insert.ExecuteNonQueryAsync(ct) == 1) return;
        }
        throw new InvalidOperationException($"Projection {name} is no longer at offset {expected}: another projector or a rebuild moved it.");
    }
}
