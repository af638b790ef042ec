using System.Data.Common;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace Metering.Accounts.Persistence;

/// <summary>
/// Every event of the journal in its order (the <c>ordering</c> column), in batches, as it is written:
/// what the projections follow. On SQLite a prepared query of the journal table on one kept
/// connection; elsewhere Akka.Persistence.Sql's read journal (<c>AllEvents</c>).
/// </summary>
public abstract class JournalFeed
{
    /// <summary>The events after <paramref name="after"/> in order, in batches of at most the feed's size, until <paramref name="ct"/> is cancelled.</summary>
    public abstract IAsyncEnumerable<IReadOnlyList<EventEnvelope>> FollowAsync(long after, CancellationToken ct);

    /// <param name="batchSize">Most events in a batch.</param>
    /// <param name="batchWait">How long a batch that is not full waits before it is handed on (and, on SQLite, before the journal is read again).</param>
    public static JournalFeed For(ActorSystem system, int batchSize, TimeSpan batchWait)
    {
        var journal = JournalTables.JournalPlugin(system);
        var database = JournalDatabase.ForPlugin(journal);
        return database.Provider == "sqlite"
            ? new SqliteFeed(database, system.Serialization, JournalTail.For(system), journal, batchSize, batchWait)
            : new ReadJournalFeed(system, batchSize, batchWait);
    }

    /// <summary>
    /// SQLite has one writer at a time, which numbers its rows as it inserts them above every row
    /// committed before (<c>AUTOINCREMENT</c>; a rolled-back write's numbers were never seen), so a
    /// reader never sees a hole in the orderings that fills later: the rows past an offset can be read
    /// as they are. Akka.Persistence.Sql's read journal guards against such holes, which PostgreSQL's
    /// concurrent writers do leave, by reading every ordering once more from an actor of its own, and
    /// joins the tag table for tags the engine never writes; with linq2db and an Akka stream that was
    /// about a tenth of the engine's CPU with one or two events per account per batch
    /// (docs/benchmarks.md, session 17).
    /// </summary>
    private sealed class SqliteFeed : JournalFeed
    {
        private readonly JournalDatabase _database;
        private readonly Akka.Serialization.Serialization _serialization;
        private readonly JournalTail _tail;
        private readonly int _batchSize;
        private readonly TimeSpan _batchWait;
        private readonly string _sql;

        public SqliteFeed(JournalDatabase database, Akka.Serialization.Serialization serialization, JournalTail tail, Config journal, int batchSize, TimeSpan batchWait)
        {
            (_database, _serialization, _tail, _batchSize, _batchWait) = (database, serialization, tail, batchSize, batchWait);
            var (table, column) = JournalTables.Table(journal, "journal");
            _sql = $"""
                SELECT {column("ordering")}, {column("persistence-id")}, {column("sequence-number")}, {column("message")}, {column("identifier")}, {column("manifest")}, {column("created")}
                FROM {table}
                WHERE {column("ordering")} > @after AND {column("deleted")} = @deleted
                ORDER BY {column("ordering")} LIMIT @max
                """;
        }

        public override async IAsyncEnumerable<IReadOnlyList<EventEnvelope>> FollowAsync(long after, [EnumeratorCancellation] CancellationToken ct)
        {
            await ThreadPoolHop.Leave(); // Microsoft.Data.Sqlite runs synchronously: not on the caller's (an actor's) thread
            // Before the first read, so every row committed after it is either read or handed on.
            using var tail = _tail.Follow();
            await using var connection = await _database.OpenAsync(ct);
            await using var command = JournalDatabase.Command(connection, null, _sql, ("@after", after), ("@deleted", false), ("@max", _batchSize));
            command.Prepare();
            while (true)
            {
                var batch = new List<EventEnvelope>();
                if (!tail.TryTake(after, _batchSize, batch))
                {
                    command.Parameters[0].Value = after;
                    await using var reader = await command.ExecuteReaderAsync(ct);
                    while (await reader.ReadAsync(ct)) batch.Add(Envelope(reader));
                }
                if (batch.Count > 0)
                {
                    after = ((Sequence)batch[^1].Offset).Value;
                    yield return batch;
                }
                if (batch.Count < _batchSize) await Task.Delay(_batchWait, ct);
            }
        }

        private EventEnvelope Envelope(DbDataReader reader)
        {
            var persistenceId = reader.GetString(1);
            var manifest = JournalTables.Manifest(reader, 5);
            var ordering = reader.GetInt64(0);
            return new EventEnvelope(
                Offset.Sequence(ordering), persistenceId, reader.GetInt64(2),
                JournalTables.Payload(_serialization, reader, 3, 4, manifest, persistenceId),
                reader.GetInt64(6), []);
        }
    }

    /// <summary>Akka.Persistence.Sql's read journal, which keeps PostgreSQL's holes in the ordering from being skipped (<see cref="SqliteFeed"/>).</summary>
    private sealed class ReadJournalFeed(ActorSystem system, int batchSize, TimeSpan batchWait) : JournalFeed
    {
        public override async IAsyncEnumerable<IReadOnlyList<EventEnvelope>> FollowAsync(long after, [EnumeratorCancellation] CancellationToken ct)
        {
            var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
            var (killSwitch, queue) = journal.AllEvents(Offset.Sequence(after))
                .ViaMaterialized(KillSwitches.Single<EventEnvelope>(), Keep.Right)
                .GroupedWithin(batchSize, batchWait)
                .ToMaterialized(Sink.Queue<IEnumerable<EventEnvelope>>(), Keep.Both)
                .Run(system.Materializer());
            await using var stop = ct.Register(killSwitch.Shutdown);
            try
            {
                while (await queue.PullAsync() is { HasValue: true } batch) yield return batch.Value.ToList();
            }
            finally
            {
                killSwitch.Shutdown();
            }
            ct.ThrowIfCancellationRequested();
        }
    }
}
