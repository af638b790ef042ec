using System.Data.Common;
using LinqToDB;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Metering.Accounts.Persistence;

/// <summary>
/// The SQL database that holds the journal and snapshots: SQLite in the data folder by default,
/// PostgreSQL when configured.
/// </summary>
public sealed class JournalDatabase
{
    private JournalDatabase(string provider, string connectionString, string linqProvider, string? sessionPragmas = null)
    {
        Provider = provider;
        ConnectionString = connectionString;
        LinqProviderName = linqProvider;
        SessionPragmas = sessionPragmas;
    }

    /// <summary>
    /// SQLite's page cache belongs to each connection and holds 2 MB by default: with 10,000 accounts
    /// the journal's index and the usage rows did not fit, and most inserts read their pages back
    /// from the operating system. 32 MB, taken only as pages are used.
    /// </summary>
    private const string SqliteCache = "PRAGMA cache_size=-32768;";

    /// <summary>
    /// Tables that are rebuilt from the journal (<see cref="Beside"/>) commit without an fsync: WAL
    /// mode keeps them consistent through any crash, and a power cut loses only their last commits,
    /// which the projections, whose offsets commit with their rows, project again.
    /// </summary>
    private const string SqliteRebuildable = SqliteCache + "PRAGMA synchronous=NORMAL;";

    /// <summary>SQLite settings that hold per connection, run as each one opens (null: none).</summary>
    public string? SessionPragmas { get; }

    /// <summary><c>sqlite</c> or <c>postgres</c>.</summary>
    public string Provider { get; }
    public string ConnectionString { get; }
    /// <summary>linq2db provider name that Akka.Persistence.Sql expects.</summary>
    public string LinqProviderName { get; }

    /// <summary>
    /// Concurrent journal write transactions. SQLite has one writer: a second transaction gets
    /// SQLITE_BUSY and Microsoft.Data.Sqlite sleeps 150 ms before retrying, so it gets exactly one.
    /// PostgreSQL overlaps a few commits (one fsync each) well.
    /// </summary>
    public int WriteParallelism => Provider == "sqlite" ? 1 : 4;

    /// <summary>
    /// Journal rows per write transaction: every transaction costs a commit (an fsync), so the more
    /// accounts' writes share one, the more rows per second. Bounded so a transaction stays short.
    /// </summary>
    public int WriteBatchSize => Provider == "sqlite" ? 2_000 : 500;

    /// <summary>
    /// Isolation of the journal's and snapshot store's reads (recovery, queries). Microsoft.Data.Sqlite
    /// starts any other transaction with BEGIN IMMEDIATE, which takes the write lock: every recovering
    /// account would queue behind the writer and each other, with 150 ms back-offs. Read-uncommitted
    /// starts a plain deferred BEGIN; in WAL mode (no shared cache) a reader still sees only committed
    /// data, from a snapshot, and never blocks the writer.
    /// </summary>
    public string ReadIsolationLevel => Provider == "sqlite" ? "read-uncommitted" : "unspecified";

    /// <summary>How Akka.Persistence.Sql reaches the database; on SQLite its work runs on the thread pool (see <see cref="ThreadPoolHop"/>).</summary>
    public DataOptions JournalDataOptions()
    {
        var options = new DataOptions().UseConnectionString(LinqProviderName, ConnectionString);
        return Provider == "sqlite" ? options.UseInterceptor(new ThreadPoolHop()).UseInterceptor(new SessionSettings(this)) : options;
    }

    /// <param name="fileName">The journal's file, or a file beside it (see <see cref="Beside"/>).</param>
    public static JournalDatabase Sqlite(string dataDir, string fileName = "metering.db") => Sqlite(dataDir, fileName, SqliteCache);

    private static JournalDatabase Sqlite(string dataDir, string fileName, string sessionPragmas)
    {
        Directory.CreateDirectory(dataDir);
        var path = Path.GetFullPath(Path.Combine(dataDir, fileName));
        var cs = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 60 }.ToString();
        return new JournalDatabase("sqlite", cs, ProviderName.SQLiteMS, sessionPragmas);
    }

    /// <summary>
    /// Where a part that writes on its own keeps its tables: on SQLite a file of its own beside the
    /// journal, because SQLite has one writer per file and Microsoft.Data.Sqlite, finding the lock
    /// taken, sleeps 150 ms before trying again (the projections' commits stalled the journal's);
    /// on PostgreSQL the same database.
    /// </summary>
    public JournalDatabase Beside(string sqliteFileName) =>
        Provider == "sqlite"
            ? Sqlite(Path.GetDirectoryName(new SqliteConnectionStringBuilder(ConnectionString).DataSource)!, sqliteFileName, SqliteRebuildable)
            : this;

    /// <summary>The database an Akka.Persistence.Sql plugin's configuration names (its connection string and linq2db provider).</summary>
    public static JournalDatabase ForPlugin(Akka.Configuration.Config plugin)
    {
        var provider = plugin.GetString("provider-name");
        var connectionString = plugin.GetString("connection-string");
        if (provider == ProviderName.SQLiteMS) return new JournalDatabase("sqlite", connectionString, provider, SqliteCache);
        if (provider == ProviderName.PostgreSQL15) return Postgres(connectionString);
        throw new InvalidOperationException($"The persistence plugin's provider '{provider}' is not one this engine configures ({ProviderName.SQLiteMS} or {ProviderName.PostgreSQL15})");
    }

    public static JournalDatabase Postgres(string connectionString) =>
        new("postgres", WithAutoPrepare(connectionString), ProviderName.PostgreSQL15);

    /// <summary>
    /// Turns on Npgsql's automatic preparation, unless the connection string says otherwise: a
    /// statement run a few times on a connection is then prepared on the server, which stops parsing
    /// and planning it again. The engine runs a handful of statements (journal rows, recovery reads,
    /// the projections' upserts) very many times. <c>Max Auto Prepare=0</c> turns it off, for a pooler
    /// that cannot keep prepared statements (PgBouncer before 1.21 in transaction mode).
    /// </summary>
    private static string WithAutoPrepare(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        if (given.Keys.Cast<string>().Any(k => k.Replace(" ", "").Equals("MaxAutoPrepare", StringComparison.OrdinalIgnoreCase)))
            return connectionString;
        return new NpgsqlConnectionStringBuilder(connectionString) { MaxAutoPrepare = 50 }.ConnectionString;
    }

    public static JournalDatabase From(string? provider, string? connectionString, string dataDir) =>
        (provider ?? "sqlite").ToLowerInvariant() switch
        {
            "sqlite" => Sqlite(dataDir),
            "postgres" or "postgresql" => string.IsNullOrWhiteSpace(connectionString)
                ? throw new InvalidOperationException("Metering:Persistence:ConnectionString is required for postgres")
                : Postgres(connectionString),
            var other => throw new InvalidOperationException($"Metering:Persistence:Provider '{other}' is not supported (sqlite or postgres)"),
        };

    public DbConnection Open()
    {
        var connection = Create();
        connection.Open();
        ApplySessionPragmas(connection);
        return connection;
    }

    public async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        var connection = Create();
        await connection.OpenAsync(ct);
        ApplySessionPragmas(connection);
        return connection;
    }

    /// <summary>Runs <see cref="SessionPragmas"/> on a connection just opened (synchronous: SQLite's async is anyway).</summary>
    public void ApplySessionPragmas(DbConnection connection)
    {
        if (SessionPragmas is null) return;
        using var command = connection.CreateCommand();
        command.CommandText = SessionPragmas;
        command.ExecuteNonQuery();
    }

    /// <summary>A parameterized command on either provider: values never go into the SQL text.</summary>
    public static DbCommand Command(DbConnection connection, DbTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var p = command.CreateParameter();
            p.ParameterName = name;
            p.Value = value ?? DBNull.Value;
            command.Parameters.Add(p);
        }
        return command;
    }

    /// <summary>
    /// A statement for many rows: prepared at its first run, then given each row's values in the
    /// order of <paramref name="parameters"/> and run again. A command per row had its SQL compiled
    /// every time, a fifth of the engine's CPU with 10,000 accounts.
    /// </summary>
    public static DbCommand Statement(DbConnection connection, DbTransaction transaction, string sql, params string[] parameters) =>
        Command(connection, transaction, sql, [.. parameters.Select(name => (name, (object?)null))]);

    private DbConnection Create() => Provider == "sqlite"
        ? new SqliteConnection(ConnectionString)
        : new NpgsqlConnection(ConnectionString);

    /// <summary>
    /// Prepares the database before the journal starts: SQLite gets WAL mode (persistent in the file),
    /// so readers never block the journal's writer and commits cost one fsync of the log.
    /// </summary>
    public void Prepare()
    {
        if (Provider != "sqlite") return;
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteNonQuery();
    }

    /// <summary>True when a trivial query succeeds; used by readiness.</summary>
    public async Task<bool> PingAsync(CancellationToken ct)
    {
        try
        {
            await using var connection = Create();
            await connection.OpenAsync(ct);
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            await command.ExecuteScalarAsync(ct);
            return true;
        }
        catch (DbException)
        {
            return false;
        }
    }
}
