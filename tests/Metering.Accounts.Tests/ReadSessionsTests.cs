using System.Data;
using System.Data.Common;
using Metering.Accounts.Persistence;

namespace Metering.Accounts.Tests;

/// <summary>The recovery reads' kept connections on SQLite: reused with their prepared statements, dropped once broken.</summary>
public sealed class ReadSessionsTests : IDisposable
{
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("metering-read-sessions-");
    private readonly ReadSessions _sessions;

    public ReadSessionsTests()
    {
        var database = JournalDatabase.Sqlite(_data.FullName);
        database.Prepare();
        _sessions = new ReadSessions(database);
    }

    [Fact]
    public async Task Consecutive_reads_share_one_connection_and_its_prepared_statement_with_each_reads_values()
    {
        var first = await ReadAsync(1);
        var second = await ReadAsync(2);

        Assert.Equal(1L, first.Value);
        Assert.Equal(2L, second.Value);
        Assert.Same(first.Command, second.Command);
        Assert.Equal(ConnectionState.Open, second.Command.Connection!.State);
    }

    [Fact]
    public async Task A_session_whose_read_failed_is_closed_and_the_next_read_opens_another()
    {
        DbCommand? failed = null;
        await Assert.ThrowsAsync<InvalidOperationException>(() => _sessions.RunAsync<long>(session =>
        {
            failed = session.Statement(Sql, ("@x", 1L));
            throw new InvalidOperationException("the read broke");
        }, CancellationToken.None));

        var next = await ReadAsync(3);

        Assert.Equal(ConnectionState.Closed, failed!.Connection!.State);
        Assert.NotSame(failed, next.Command);
        Assert.Equal(3L, next.Value);
    }

    [Fact]
    public async Task Disposing_closes_the_idle_sessions()
    {
        var read = await ReadAsync(1);

        _sessions.Dispose();

        Assert.Equal(ConnectionState.Closed, read.Command.Connection!.State);
    }

    private const string Sql = "SELECT @x";

    private Task<(long Value, DbCommand Command)> ReadAsync(long x) =>
        _sessions.RunAsync(async session =>
        {
            var command = session.Statement(Sql, ("@x", x));
            return ((long)(await command.ExecuteScalarAsync())!, command);
        }, CancellationToken.None);

    public void Dispose()
    {
        _sessions.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _data.Delete(recursive: true);
    }
}
