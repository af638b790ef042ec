using Akka.Persistence.Query;
using Metering.Accounts.Persistence;
using Metering.Domain.Accounts;
using Metering.Domain.Usage;
using Metering.Projections;
using Metering.Tests.Shared;

namespace Metering.Host.Tests;

/// <summary>A batch commits with its offset or not at all, on a real SQLite file.</summary>
public sealed class ProjectionCommitTests : IDisposable
{
    private readonly TempDir _data = new();

    public void Dispose() => _data.Dispose();

    /// <summary>The read store on the test's SQLite file, its tables created.</summary>
    private ReadStore NewStore()
    {
        var store = new ReadStore(JournalDatabase.Sqlite(_data.Path));
        ProjectionsHostingExtensions.CreateSchema(store);
        return store;
    }

    [Fact]
    public async Task A_projector_whose_offset_moved_on_cannot_commit_and_its_rows_roll_back()
    {
        var store = NewStore();
        var projection = new UsageProjection();
        var at = new DateTimeOffset(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);
        var usage = new UsageRecorded([new UsageRecord("crm", "e-1", "call", 3, at, "sales", "ana", new KafkaPosition(0, 1))], [new KafkaPosition(0, 1)], 0, at);
        EventEnvelope[] batch = [new(Offset.Sequence(5), "account-a", 1, usage, at.UtcTicks, [])];

        await CommitAsync(expected: 0);
        // The same batch again from a projector that still believes the offset is 0 (a singleton that
        // moved, a rebuild that emptied the table): refused, and its rows go with it.
        await Assert.ThrowsAsync<InvalidOperationException>(() => CommitAsync(expected: 0));
        await Assert.ThrowsAsync<InvalidOperationException>(() => CommitAsync(expected: 3));

        var rows = await new UsageReadModel(store).RowsAsync("a", new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 3), null, CancellationToken.None);
        Assert.Equal(3m, Assert.Single(rows).Quantity);
        await using var connection = await store.OpenAsync(CancellationToken.None);
        Assert.Equal(5, await ProjectionOffsets.ReadAsync(connection, projection.Name, CancellationToken.None));

        // The refused batches had moved the projection's totals ahead of the table; after Forget (what
        // the projection actor does when a commit fails) the next batch adds to what was committed.
        projection.Forget();
        var more = usage with { Accepted = [usage.Accepted[0] with { EventId = "e-2", Quantity = 2 }] };
        batch = [new(Offset.Sequence(6), "account-a", 2, more, at.UtcTicks, [])];
        await CommitAsync(expected: 5);
        rows = await new UsageReadModel(store).RowsAsync("a", new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 3), null, CancellationToken.None);
        Assert.Equal(5m, Assert.Single(rows).Quantity);

        async Task CommitAsync(long expected)
        {
            await using var connection = await store.OpenAsync(CancellationToken.None);
            await using var transaction = await connection.BeginTransactionAsync();
            await (await projection.PrepareAsync(batch, CancellationToken.None))(connection, transaction, CancellationToken.None);
            await ProjectionOffsets.AdvanceAsync(connection, transaction, projection.Name, expected, ((Sequence)batch[^1].Offset).Value, at.UtcTicks, CancellationToken.None);
            await transaction.CommitAsync();
        }
    }

    [Fact]
    public async Task Usage_totals_kept_in_memory_add_up_with_the_table_across_batches_days_and_a_full_cache()
    {
        var store = NewStore();
        var projection = new UsageProjection(cachedRows: 2);
        var monday = new DateTimeOffset(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);
        var tuesday = monday.AddDays(1);
        long ordering = 0;

        await ProjectAsync(monday, ("call", "ana", 3m), ("call", "bob", 1m));
        await ProjectAsync(monday, ("call", "ana", 2m));
        Assert.Equal(2, projection.CachedRows);
        // A third row is over the cap: Monday's rows leave memory, Tuesday's stays.
        await ProjectAsync(tuesday, ("email", "ana", 4m));
        Assert.Equal(1, projection.CachedRows);
        // Monday's rows are read back from the table and added to, not started again from zero.
        await ProjectAsync(monday, ("call", "ana", 1m), ("call", "bob", 1m));
        // A new instance (a projection run on another node) starts from the table too: the newest day's
        // rows it read as it started, an older day's row as a batch brings it.
        projection = new UsageProjection(cachedRows: 2);
        await ProjectAsync(tuesday, ("email", "ana", 1m));
        Assert.Equal(1, projection.CachedRows);
        await ProjectAsync(monday, ("call", "bob", 1m));
        // One day's rows over the cap leave memory all at once; they are read back too.
        await ProjectAsync(tuesday, ("email", "ana", 1m), ("call", "ana", 1m), ("call", "bob", 1m));
        Assert.Equal(0, projection.CachedRows);
        await ProjectAsync(tuesday, ("email", "ana", 1m));

        var rows = await new UsageReadModel(store).RowsAsync("a", new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 4), null, CancellationToken.None);
        var totals = rows.ToDictionary(r => (r.Day, r.Meter, r.User), r => r.Quantity);
        Assert.Equal(6m, totals[(new DateOnly(2026, 3, 2), "call", "ana")]);
        Assert.Equal(3m, totals[(new DateOnly(2026, 3, 2), "call", "bob")]);
        Assert.Equal(7m, totals[(new DateOnly(2026, 3, 3), "email", "ana")]);
        Assert.Equal(1m, totals[(new DateOnly(2026, 3, 3), "call", "ana")]);
        Assert.Equal(1m, totals[(new DateOnly(2026, 3, 3), "call", "bob")]);
        Assert.Equal(5, totals.Count);

        async Task ProjectAsync(DateTimeOffset at, params (string Meter, string User, decimal Quantity)[] usage)
        {
            var records = usage.Select((u, i) => new UsageRecord("crm", $"e-{ordering}-{i}", u.Meter, u.Quantity, at, "sales", u.User, new KafkaPosition(0, ordering))).ToArray();
            var e = new UsageRecorded(records, [new KafkaPosition(0, ordering)], 0, at);
            ordering++;
            await using var connection = await store.OpenAsync(CancellationToken.None);
            await using var transaction = await connection.BeginTransactionAsync();
            await (await projection.PrepareAsync([new EventEnvelope(Offset.Sequence(ordering), "account-a", ordering, e, at.UtcTicks, [])], CancellationToken.None))(connection, transaction, CancellationToken.None);
            await ProjectionOffsets.AdvanceAsync(connection, transaction, projection.Name, ordering - 1, ordering, at.UtcTicks, CancellationToken.None);
            await transaction.CommitAsync();
        }
    }

    [Fact]
    public async Task One_batch_over_two_days_and_two_accounts_puts_each_usage_on_its_own_day_and_account()
    {
        var store = NewStore();
        var projection = new UsageProjection();
        var monday = new DateTimeOffset(2026, 3, 2, 23, 0, 0, TimeSpan.Zero);
        var tuesday = monday.AddHours(2);
        // Monday, Tuesday, then Monday again (another account's event written later): one batch.
        EventEnvelope[] batch = [Envelope(1, "account-a", monday, 3), Envelope(2, "account-a", tuesday, 4), Envelope(3, "account-b", monday.AddMinutes(30), 5)];

        await using (var connection = await store.OpenAsync(CancellationToken.None))
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await (await projection.PrepareAsync(batch, CancellationToken.None))(connection, transaction, CancellationToken.None);
            await transaction.CommitAsync();
        }

        var days = new Dictionary<(string, DateOnly), decimal>();
        foreach (var account in new[] { "a", "b" })
            foreach (var row in await new UsageReadModel(store).RowsAsync(account, new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 4), null, CancellationToken.None))
                days[(account, row.Day)] = row.Quantity;
        Assert.Equal(new Dictionary<(string, DateOnly), decimal>
        {
            [("a", new DateOnly(2026, 3, 2))] = 3m,
            [("a", new DateOnly(2026, 3, 3))] = 4m,
            [("b", new DateOnly(2026, 3, 2))] = 5m,
        }, days);

        static EventEnvelope Envelope(long ordering, string persistenceId, DateTimeOffset at, decimal quantity) =>
            new(Offset.Sequence(ordering), persistenceId, ordering,
                new UsageRecorded([new UsageRecord("crm", $"e-{ordering}", "call", quantity, at, null, null, new KafkaPosition(0, ordering))], [new KafkaPosition(0, ordering)], 0, at),
                at.UtcTicks, []);
    }

    [Fact]
    public async Task A_write_waiting_for_another_on_SQLite_holds_no_thread_and_starts_after_it_committed()
    {
        var store = NewStore();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = store.WriteAsync(async (connection, transaction) =>
        {
            await ReadStore.ExecuteAsync(connection, transaction, $"INSERT INTO {ProjectionOffsets.Table} (name, ordering, event_timestamp) VALUES ('first', 1, 0)", CancellationToken.None);
            await gate.Task;
        }, CancellationToken.None);
        // Opens the first's transaction later whatever happens, so a blocked caller cannot hang the test.
        _ = Task.Delay(TimeSpan.FromSeconds(3)).ContinueWith(_ => gate.TrySetResult());

        long? seen = null;
        var calling = System.Diagnostics.Stopwatch.StartNew();
        var second = store.WriteAsync(async (connection, transaction) =>
        {
            await using var read = JournalDatabase.Command(connection, transaction, $"SELECT ordering FROM {ProjectionOffsets.Table} WHERE name = 'first'");
            seen = Convert.ToInt64(await read.ExecuteScalarAsync());
        }, CancellationToken.None);
        var returnedAfter = calling.Elapsed;

        // Microsoft.Data.Sqlite alone would have blocked this thread in BEGIN until the first committed.
        Assert.True(returnedAfter < TimeSpan.FromSeconds(1), $"the call held its thread for {returnedAfter}");
        Assert.False(second.IsCompleted);
        gate.TrySetResult();
        await Task.WhenAll(first, second);
        Assert.Equal(1, seen);
    }

    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task A_batch_wider_than_one_statement_writes_every_row_once_with_its_sum(string provider)
    {
        await using var postgres = provider == "postgres" ? await TestPostgresDatabase.CreateAsync() : null;
        var store = new ReadStore(postgres is null ? JournalDatabase.Sqlite(_data.Path) : JournalDatabase.Postgres(postgres.ConnectionString));
        ProjectionsHostingExtensions.CreateSchema(store);
        var projection = new UsageProjection();
        var at = new DateTimeOffset(2026, 3, 2, 10, 0, 0, TimeSpan.Zero);
        // Two full statements and part of a third; every user twice in a batch, in two events.
        int users;
        await using (var probe = await store.OpenAsync(CancellationToken.None)) users = ReadStore.RowsPerStatement(probe) * 2 + 37;
        await ProjectAsync(0);
        // A new instance whose cap is below the newest day's rows knows none: it reads them back as the
        // batch brings them, in several queries, and adds to them.
        projection = new UsageProjection(cachedRows: users - 1);
        await ProjectAsync(2);

        var rows = await new UsageReadModel(store).RowsAsync("a", new DateOnly(2026, 3, 1), new DateOnly(2026, 3, 3), null, CancellationToken.None);
        Assert.Equal(users, rows.Count);
        Assert.All(rows, r => Assert.Equal(4m * (int.Parse(r.User["user-".Length..]) + 1), r.Quantity));

        async Task ProjectAsync(int first)
        {
            EventEnvelope[] batch = [.. Enumerable.Range(first, 2).Select(n =>
            {
                var records = Enumerable.Range(0, users).Select(u => new UsageRecord("crm", $"e-{n}-{u}", "call", u + 1, at, "sales", $"user-{u}", new KafkaPosition(0, n))).ToArray();
                return new EventEnvelope(Offset.Sequence(n + 1), "account-a", n + 1, new UsageRecorded(records, [new KafkaPosition(0, n)], 0, at), at.UtcTicks, []);
            })];
            await using var connection = await store.OpenAsync(CancellationToken.None);
            await using var transaction = await connection.BeginTransactionAsync();
            await (await projection.PrepareAsync(batch, CancellationToken.None))(connection, transaction, CancellationToken.None);
            await transaction.CommitAsync();
        }
    }
}
