using Akka.Persistence.Query;
using Metering.Accounts.Persistence;
using Metering.Domain.Accounts;
using Metering.Domain.Usage;
using Metering.Projections;

namespace Metering.Host.Tests;

/// <summary>A batch commits with its offset or not at all, on a real SQLite file.</summary>
public sealed class ProjectionCommitTests : IDisposable
{
    private readonly TempDir _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task A_projector_whose_offset_moved_on_cannot_commit_and_its_rows_roll_back()
    {
        var store = new ReadStore(JournalDatabase.Sqlite(_data.Path));
        ProjectionsHostingExtensions.CreateSchema(store);
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

        async Task CommitAsync(long expected)
        {
            await using var connection = await store.OpenAsync(CancellationToken.None);
            await using var transaction = await connection.BeginTransactionAsync();
            await (await projection.PrepareAsync(batch, CancellationToken.None))(connection, transaction, CancellationToken.None);
            await ProjectionOffsets.AdvanceAsync(connection, transaction, projection.Name, expected, 5, at.UtcTicks, CancellationToken.None);
            await transaction.CommitAsync();
        }
    }
}
