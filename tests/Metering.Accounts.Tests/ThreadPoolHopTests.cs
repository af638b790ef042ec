using System.Data;
using System.Data.Common;
using LinqToDB;
using LinqToDB.Data;
using LinqToDB.Interceptors;
using Metering.Accounts.Persistence;

namespace Metering.Accounts.Tests;

/// <summary>
/// The journal's SQLite work must not run on its caller's thread: Akka.Persistence.Sql calls it from
/// its write stage, which only batches the writes that arrive while a transaction runs elsewhere.
/// </summary>
public sealed class ThreadPoolHopTests : IDisposable
{
    private readonly DirectoryInfo _data = Directory.CreateTempSubdirectory("metering-hop-");

    [Fact]
    public async Task A_journal_transaction_on_SQLite_gives_its_caller_control_back_and_opens_on_another_thread()
    {
        var database = JournalDatabase.Sqlite(_data.FullName);
        database.Prepare();
        var opened = new OpenedOn();
        using var db = new DataConnection(database.JournalDataOptions().UseInterceptor(opened));

        var caller = Environment.CurrentManagedThreadId;
        // How Akka.Persistence.Sql starts every operation. Microsoft.Data.Sqlite's async calls are
        // synchronous: without the hop the connection is open, on this thread, when the call returns.
        var starting = db.BeginTransactionAsync(IsolationLevel.ReadUncommitted);
        int[] openedBeforeReturning;
        lock (opened.Threads) openedBeforeReturning = [.. opened.Threads];
        Assert.DoesNotContain(caller, openedBeforeReturning);

        await using var transaction = await starting;
        Assert.Equal(1, await db.ExecuteAsync<long>("SELECT 1"));
        Assert.Single(opened.Threads);
    }

    [Fact]
    public void PostgreSQL_connections_go_without_it_since_Npgsql_is_asynchronous_itself()
    {
        var options = JournalDatabase.Postgres("Host=127.0.0.1;Database=none").JournalDataOptions();
        Assert.DoesNotContain(options.DataContextOptions.Interceptors ?? [], i => i is ThreadPoolHop);
        Assert.Contains(JournalDatabase.Sqlite(_data.FullName).JournalDataOptions().DataContextOptions.Interceptors ?? [], i => i is ThreadPoolHop);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { _data.Delete(recursive: true); } catch (IOException) { }
    }

    /// <summary>Which threads opened connections.</summary>
    private sealed class OpenedOn : ConnectionInterceptor
    {
        public List<int> Threads { get; } = [];

        public override void ConnectionOpened(ConnectionEventData eventData, DbConnection connection) => Record();

        public override Task ConnectionOpenedAsync(ConnectionEventData eventData, DbConnection connection, CancellationToken cancellationToken)
        {
            Record();
            return Task.CompletedTask;
        }

        private void Record()
        {
            lock (Threads) Threads.Add(Environment.CurrentManagedThreadId);
        }
    }
}
