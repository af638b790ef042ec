using System.Data.Common;
using System.Text.Json;
using Metering.Accounts.Persistence;
using Microsoft.Data.Sqlite;

namespace Metering.Projections;

/// <summary>
/// The read tables and the projections' offsets, so a projection commits its rows and its offset in
/// one local transaction: in the journal's PostgreSQL database, or on SQLite in <c>read.db</c>
/// beside the journal (<see cref="JournalDatabase.Beside"/>), so projecting never holds the
/// journal's one write lock. Plain ADO.NET with SQL both databases speak
/// (<c>ON CONFLICT … DO UPDATE</c>, <c>LIMIT … OFFSET</c>); only the decimal column type differs.
/// </summary>
public sealed class ReadStore(JournalDatabase journal)
{
    public const string SqliteFile = "read.db";

    private readonly JournalDatabase database = journal.Beside(SqliteFile);

    /// <summary>The journal itself, which the projections read (and their lag is measured on).</summary>
    public JournalDatabase Journal => journal;

    /// <summary>Read rows keep domain records as JSON; the same options read them back.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { AllowOutOfOrderMetadataProperties = true };

    public string Provider => database.Provider;

    /// <summary>
    /// SQLite has no exact decimal: a NUMERIC column would turn 0.1 into a double. TEXT keeps the
    /// decimal's digits, and sums are made in C# decimal, never in SQL.
    /// </summary>
    public string DecimalType => database.Provider == "sqlite" ? "TEXT" : "NUMERIC";

    /// <summary>
    /// After the columns of a table whose rows are small and found by their primary key: on SQLite
    /// the table is then that key's b-tree alone, so an upsert touches one b-tree instead of two
    /// (28 % less CPU for the usage rows' upserts, measured with SQLite alone). Tables created
    /// before keep their rowid; both read and write the same.
    /// </summary>
    public string RowidFree => database.Provider == "sqlite" ? " WITHOUT ROWID" : "";

    public DbConnection Open() => database.Open();

    /// <summary>WAL mode on SQLite, as for the journal: the API's reads never block a projection's commit.</summary>
    public void Prepare() => database.Prepare();

    public Task<DbConnection> OpenAsync(CancellationToken ct) => database.OpenAsync(ct);

    /// <summary>
    /// SQLite lets one transaction write at a time, and Microsoft.Data.Sqlite, finding the lock
    /// taken, blocks its thread in 150 ms sleeps until it is free: the two projections' commits
    /// took turns that way, 5.3 s of sleeping thread-pool threads in 12 s at full load (10,000
    /// accounts). So on SQLite the writers of this store wait here for each other, without a thread.
    /// PostgreSQL transactions overlap.
    /// </summary>
    private readonly SemaphoreSlim _writer = new(1, 1);

    /// <summary>Runs <paramref name="work"/> in a write transaction of its own and commits it.</summary>
    public async Task WriteAsync(Func<DbConnection, DbTransaction, Task> work, CancellationToken ct)
    {
        var oneAtATime = database.Provider == "sqlite";
        if (oneAtATime) await _writer.WaitAsync(ct);
        try
        {
            await using var connection = await OpenAsync(ct);
            await using var transaction = await connection.BeginTransactionAsync(ct);
            await work(connection, transaction);
            await transaction.CommitAsync(ct);
        }
        finally
        {
            if (oneAtATime) _writer.Release();
        }
    }

    /// <summary>
    /// Rows per statement of <see cref="WriteRowsAsync"/> on PostgreSQL and keys per query of the usage
    /// projection's reads. PostgreSQL: 100 (900 parameters for the widest table, a round trip saved per row).
    /// SQLite: one, since there is no round trip to save, and Microsoft.Data.Sqlite binds every
    /// parameter by name, which SQLite finds by a linear scan: the cost of a wide statement's binding
    /// grows with the square of its parameters.
    /// </summary>
    public static int RowsPerStatement(DbConnection connection) => connection is SqliteConnection ? 1 : 100;

    /// <summary>
    /// Writes <paramref name="rows"/> (each the values of <paramref name="columns"/>, in order) with
    /// one statement per <see cref="RowsPerStatement"/> rows, on SQLite one prepared
    /// <see cref="SqliteStatement"/> run per row: <paramref name="insert"/> is the SQL up
    /// to <c>VALUES</c>, <paramref name="onConflict"/> what follows the rows. A statement per row was
    /// a round trip per row on PostgreSQL, where the projections trailed the journal by a minute after
    /// 1,000,000 events for 10,000 accounts.
    /// </summary>
    public static Task WriteRowsAsync(DbConnection connection, DbTransaction transaction, string insert, string onConflict, int columns, IReadOnlyList<object?[]> rows, CancellationToken ct)
    {
        if (connection is SqliteConnection sqlite)
        {
            // A row per statement, bound by position (SqliteStatement), in the connection's transaction.
            using var statement = new SqliteStatement(sqlite, Sql(ParameterNames(1, columns)));
            foreach (var row in rows) statement.Execute(row);
            return Task.CompletedTask;
        }
        return InChunksAsync(connection, transaction, columns, rows, Sql, command => command.ExecuteNonQueryAsync(ct));

        string Sql(string[][] names) => $"{insert} VALUES {string.Join(", ", names.Select(row => $"({string.Join(", ", row)})"))} {onConflict}";
    }

    /// <summary>
    /// Runs a statement per <see cref="RowsPerStatement"/> rows of <paramref name="rows"/>: its SQL
    /// comes from <paramref name="sql"/> given each row's parameter names, its parameters take the rows'
    /// values in order. The statement for a full chunk is prepared once and run again.
    /// </summary>
    public static async Task InChunksAsync(DbConnection connection, DbTransaction transaction, int columns, IReadOnlyList<object?[]> rows, Func<string[][], string> sql, Func<DbCommand, Task> run)
    {
        var perStatement = RowsPerStatement(connection);
        DbCommand? full = null;
        try
        {
            for (var start = 0; start < rows.Count; start += perStatement)
            {
                var count = Math.Min(perStatement, rows.Count - start);
                var command = count == perStatement ? full ??= ForRows(count) : ForRows(count);
                for (var r = 0; r < count; r++)
                {
                    var row = rows[start + r];
                    for (var c = 0; c < columns; c++) command.Parameters[r * columns + c].Value = row[c] ?? DBNull.Value;
                }
                await run(command);
                if (command != full) await command.DisposeAsync();
            }
        }
        finally
        {
            if (full is not null) await full.DisposeAsync();
        }

        DbCommand ForRows(int count)
        {
            var names = ParameterNames(count, columns);
            return JournalDatabase.Statement(connection, transaction, sql(names), [.. names.SelectMany(n => n)]);
        }
    }

    /// <summary>A statement's parameter names for <paramref name="rows"/> rows of <paramref name="columns"/> values, row by row.</summary>
    private static string[][] ParameterNames(int rows, int columns) =>
        [.. Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, columns).Select(c => $"@r{r}c{c}").ToArray())];

    public static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using var command = JournalDatabase.Command(connection, transaction, sql, parameters);
        await command.ExecuteNonQueryAsync(ct);
    }
}
