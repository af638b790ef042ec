using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Metering.Tests.Shared;

/// <summary>
/// A PostgreSQL database of the test's own, created from <c>METERING_TEST_POSTGRES</c> (a role that may
/// create databases) and dropped with the test, so runs never see each other's journals.
/// </summary>
public sealed class TestPostgresDatabase : IAsyncDisposable
{
    public const string Variable = "METERING_TEST_POSTGRES";

    private readonly string _admin;

    private TestPostgresDatabase(string admin, string name)
    {
        _admin = admin;
        Name = name;
        ConnectionString = new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
    }

    public string Name { get; }
    public string ConnectionString { get; }

    public static string AdminConnectionString =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{Variable} is not set, so the PostgreSQL tests have no server. Run ./test.sh, which installs and starts " +
                $"PostgreSQL and sets it, or set {Variable} to an Npgsql connection string of a role with CREATEDB " +
                "(e.g. Host=127.0.0.1;Username=metering;Password=metering;Database=metering_test).");

    public static Task<TestPostgresDatabase> CreateAsync() =>
        Task.Run(() => Create("metering_t_" + Guid.NewGuid().ToString("N")[..16], ifMissing: false));

    /// <summary>
    /// The database of one engine data folder, created on first use: an engine started again over the
    /// same folder finds its journal, as it finds its SQLite file.
    /// </summary>
    public static TestPostgresDatabase ForDataDir(string dataDir) => Create(DataDirName(dataDir), ifMissing: true);

    /// <summary>Drops the database of <paramref name="dataDir"/>, if it has one.</summary>
    public static void DropForDataDir(string dataDir) => new TestPostgresDatabase(AdminConnectionString, DataDirName(dataDir)).Drop();

    private static string DataDirName(string dataDir) =>
        "metering_d_" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Path.GetFullPath(dataDir))))[..16];

    private static TestPostgresDatabase Create(string name, bool ifMissing)
    {
        var database = new TestPostgresDatabase(AdminConnectionString, name);
        if (!ifMissing || database.Admin<long>($"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == 0)
            database.Admin<object>($"CREATE DATABASE \"{name}\" ENCODING 'UTF8' LOCALE 'C' TEMPLATE template0");
        return database;
    }

    public async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        return connection;
    }

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var connection = await OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)Convert.ChangeType((await command.ExecuteScalarAsync())!, typeof(T));
    }

    public void Drop()
    {
        // Pooled connections (ours and the hosts') would keep the database in use.
        NpgsqlConnection.ClearAllPools();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Admin<object>($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)");
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege && attempt < 50)
            {
                // FORCE may not end an autovacuum worker that is in the database (PostgreSQL 15): it
                // leaves by itself within moments, seen when both test streams churn databases.
                Thread.Sleep(200);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        Drop();
        return ValueTask.CompletedTask;
    }

    private T? Admin<T>(string sql)
    {
        using var connection = new NpgsqlConnection(_admin);
        connection.Open();
        using var command = new NpgsqlCommand(sql, connection);
        return (T?)command.ExecuteScalar();
    }
}

/// <summary>
/// Which journal the test engines run on. <c>METERING_TEST_PROVIDER=postgres</c> (test.sh's second
/// pass) puts every engine whose test does not choose a provider itself on PostgreSQL, each data
/// folder with a fresh database of its own (<see cref="TestPostgresDatabase.ForDataDir"/>); unset or
/// <c>sqlite</c>, the default SQLite file in the data folder.
/// </summary>
public static class TestPersistence
{
    public const string Variable = "METERING_TEST_PROVIDER";

    public static bool Postgres => Environment.GetEnvironmentVariable(Variable) switch
    {
        null or "" or "sqlite" => false,
        "postgres" => true,
        var other => throw new InvalidOperationException($"{Variable}='{other}': use sqlite or postgres."),
    };

    /// <summary>Engine arguments for the provider, given the engine's data folder.</summary>
    public static string[] HostArgs(string dataDir) => Postgres
        ? ["--Metering:Persistence:Provider=postgres", $"--Metering:Persistence:ConnectionString={TestPostgresDatabase.ForDataDir(dataDir).ConnectionString}"]
        : [];

    /// <summary>Drops the data folder's database, if the provider gave it one.</summary>
    public static void Release(string dataDir)
    {
        if (Postgres) TestPostgresDatabase.DropForDataDir(dataDir);
    }
}
