using System.Data;
using System.Data.Common;
using LinqToDB;
using LinqToDB.Data;
using Metering.Accounts.Persistence;

namespace Metering.Accounts.Tests;

/// <summary>
/// SQLite's per-connection settings reach every connection: the journal's (through linq2db) and
/// those opened directly, with the journal's commits still synced and the rebuildable tables' not.
/// </summary>
public sealed class SessionSettingsTests : IDisposable
{
    private const long Full = 2, Normal = 1;
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("metering-pragmas-");

    [Fact]
    public async Task The_journals_connections_get_a_larger_page_cache_and_keep_syncing_every_commit()
    {
        var database = JournalDatabase.Sqlite(_data.FullName);
        database.Prepare();
        using var db = new DataConnection(database.JournalDataOptions());
        await using var transaction = await db.BeginTransactionAsync(IsolationLevel.ReadUncommitted);

        Assert.Equal(-32768, await db.ExecuteAsync<long>("PRAGMA cache_size"));
        Assert.Equal(Full, await db.ExecuteAsync<long>("PRAGMA synchronous"));
        await using var direct = await database.OpenAsync(CancellationToken.None);
        Assert.Equal((-32768L, Full), Read(direct));
    }

    [Fact]
    public void Tables_rebuilt_from_the_journal_commit_without_an_fsync_in_a_file_of_their_own()
    {
        var journal = JournalDatabase.Sqlite(_data.FullName);
        var beside = journal.Beside("read.db");
        beside.Prepare();
        using var connection = beside.Open();

        Assert.Equal((-32768L, Normal), Read(connection));
        Assert.Equal(Path.Combine(_data.FullName, "read.db"), new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder(beside.ConnectionString).DataSource);
        Assert.Null(JournalDatabase.Postgres("Host=127.0.0.1;Database=none").SessionPragmas);
    }

    private static (long CacheSize, long Synchronous) Read(DbConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA cache_size";
        var cache = Convert.ToInt64(command.ExecuteScalar());
        command.CommandText = "PRAGMA synchronous";
        return (cache, Convert.ToInt64(command.ExecuteScalar()));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { _data.Delete(recursive: true); } catch (IOException) { }
    }
}
