using System.Collections.Immutable;
using System.Threading.Channels;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Query;
using Akka.Serialization;
using Akka.Util;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Metering.Accounts.Persistence;

/// <summary>
/// Writes journal rows as Akka.Persistence.Sql lays them out (same table, columns and values, so its
/// read journal and recovery read them unchanged), many accounts' writes per transaction. On SQLite
/// one prepared single-row INSERT is bound by position and stepped per row (<see cref="SqliteStatement"/>); elsewhere the rows go as one batch of
/// commands per round trip. Akka.Persistence.Sql built each transaction's rows into one multi-row
/// INSERT with every payload written into the SQL text, which SQLite then parsed: without it the
/// engine allocates 15 % fewer bytes per event (docs/benchmarks.md, session 10).
/// </summary>
public sealed class JournalWrites
{
    private readonly JournalDatabase _database;
    private readonly ExtendedActorSystem _system;
    private readonly string _insertSql;
    private readonly bool _writerUuidColumn;
    private readonly bool _tagsColumn;
    /// <summary>The INSERT's parameter names, one per column, in <see cref="Fill"/>' order.</summary>
    private readonly string[] _parameters;
    private readonly int _batchSize;
    /// <summary>On SQLite, where the rows' orderings are known as they are inserted (see <see cref="JournalFeed"/>).</summary>
    private readonly JournalTail? _tail;
    private readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { AllowSynchronousContinuations = false });

    /// <summary>Rows of one <see cref="WriteAsync"/> call, who waits for them, and what they get once the rows are committed.</summary>
    private sealed record Pending(List<Row> Rows, TaskCompletionSource<IImmutableList<Exception>> Done, IImmutableList<Exception> Rejected);

    /// <param name="Writer">
    /// The persistent actor incarnation's writer id, which Akka's replay filter reads back. One id per
    /// journal instance made an account that moved to another node and back look like an old writer
    /// writing after a newer one, and its later events were discarded at its next recovery.
    /// </param>
    /// <param name="Payload">The event written, for the <see cref="JournalTail"/>.</param>
    private sealed record Row(string PersistenceId, long SequenceNr, byte[] Message, int Serializer, string Manifest, long Created, string Writer, object Payload);

    /// <param name="journal">The journal plugin's configuration: its table mapping, batch size and parallelism.</param>
    public JournalWrites(JournalDatabase database, ExtendedActorSystem system, Config journal)
    {
        _database = database;
        _system = system;
        _tail = database.Provider == "sqlite" ? JournalTail.For(system) : null;
        _batchSize = journal.GetInt("batch-size", 400);
        var (table, column) = JournalTables.Table(journal, "journal");
        _writerUuidColumn = JournalTables.UsesWriterUuid(journal);
        var columns = new List<string> { column("persistence-id"), column("sequence-number"), column("deleted"), column("message"), column("identifier"), column("manifest"), column("created") };
        if (_writerUuidColumn) columns.Add(column("writer-uuid"));
        // Tag-table mode (the engine's) has no tags column; the others write "" for untagged rows.
        _tagsColumn = !journal.GetString("tag-write-mode", "TagTable").Equals("TagTable", StringComparison.OrdinalIgnoreCase);
        if (_tagsColumn) columns.Add(column("tags"));
        _parameters = [.. Enumerable.Range(0, columns.Count).Select(i => $"@p{i}")];
        _insertSql = $"INSERT INTO {table} ({string.Join(", ", columns)}) VALUES ({string.Join(", ", _parameters)})";
        for (var i = 0; i < Math.Max(1, journal.GetInt("parallelism", 1)); i++) _ = Task.Run(WriteLoopAsync);
    }

    /// <summary>
    /// Serializes and queues <paramref name="writes"/>; completes when their rows are committed, with
    /// the writes whose payload could not be serialized, or is tagged, rejected. The engine tags nothing
    /// (its projections read the whole journal in order), and Akka.Persistence.Sql's tag table would need
    /// its own writer. A failed transaction fails the whole call, as in the base journal.
    /// </summary>
    public Task<IImmutableList<Exception>> WriteAsync(IReadOnlyList<AtomicWrite> writes)
    {
        var rows = new List<Row>(writes.Count);
        Exception?[]? rejected = null;
        var created = DateTime.UtcNow.Ticks;
        for (var i = 0; i < writes.Count; i++)
        {
            var first = rows.Count;
            try
            {
                // Indexed: a foreach over the interface boxes its enumerator, for every account's write.
                var payload = (IImmutableList<IPersistentRepresentation>)writes[i].Payload;
                for (var j = 0; j < payload.Count; j++)
                {
                    var persistent = payload[j];
                    rows.Add(persistent.Payload is Tagged
                        ? throw new NotSupportedException($"{persistent.PersistenceId}: this journal writes no tags")
                        : Serialize(persistent, created));
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                rows.RemoveRange(first, rows.Count - first);
                (rejected ??= new Exception?[writes.Count])[i] = e;
            }
        }
        // Akka's contract: null, or one entry per write with null for those that were not rejected.
        IImmutableList<Exception> result = rejected is null ? null! : ImmutableList.CreateRange<Exception>(rejected!);
        if (rows.Count == 0) return Task.FromResult(result);
        // Not an async method: its state machine was one more object per account and batch.
        var done = new TaskCompletionSource<IImmutableList<Exception>>(TaskCreationOptions.RunContinuationsAsynchronously);
        return _queue.Writer.TryWrite(new Pending(rows, done, result))
            ? done.Task
            : Task.FromException<IImmutableList<Exception>>(new InvalidOperationException("The journal is stopping and takes no more writes"));
    }

    /// <summary>Stops taking writes; those queued are still written.</summary>
    public void Complete() => _queue.Writer.TryComplete();

    private Row Serialize(IPersistentRepresentation persistent, long created)
    {
        var payload = persistent.Payload;
        var serializer = _system.Serialization.FindSerializerFor(payload);
        var manifest = serializer switch
        {
            SerializerWithStringManifest withManifest => withManifest.Manifest(payload),
            { IncludeManifest: true } => payload.GetType().TypeQualifiedName(),
            _ => string.Empty,
        };
        // With the system as transport, so actor references in a payload serialize as the base journal's do.
        var message = Akka.Serialization.Serialization.WithTransport(_system, (serializer, payload), static s => s.serializer.ToBinary(s.payload));
        return new Row(persistent.PersistenceId, persistent.SequenceNr, message, serializer.Identifier, manifest,
            persistent.Timestamp == 0 ? created : persistent.Timestamp, persistent.WriterGuid, payload);
    }

    /// <summary>Takes what is queued, up to the batch size in rows, and commits it in one transaction.</summary>
    private async Task WriteLoopAsync()
    {
        var batch = new List<Pending>();
        while (await _queue.Reader.WaitToReadAsync())
        {
            var rows = 0;
            while (rows < _batchSize && _queue.Reader.TryRead(out var pending))
            {
                batch.Add(pending);
                rows += pending.Rows.Count;
            }
            if (batch.Count == 0) continue;
            try
            {
                await InsertAsync(batch);
                foreach (var pending in batch) pending.Done.TrySetResult(pending.Rejected);
            }
            catch (Exception e)
            {
                foreach (var pending in batch) pending.Done.TrySetException(e);
            }
            batch.Clear();
        }
    }

    private async Task InsertAsync(List<Pending> batch)
    {
        await using var connection = await _database.OpenAsync(CancellationToken.None);
        await using var transaction = await connection.BeginTransactionAsync();
        var rows = batch.SelectMany(p => p.Rows);
        List<EventEnvelope>? committed = null;
        if (connection is SqliteConnection sqlite)
        {
            // One statement, prepared at the transaction's start and only bound and stepped per row;
            // one array of values for all rows, since each run binds them before the next fills it.
            using var statement = new SqliteStatement(sqlite, _insertSql);
            var values = new object[_parameters.Length];
            if (_tail is { Followed: true }) committed = [];
            foreach (var row in rows)
            {
                statement.Execute(Fill(values, row));
                committed?.Add(new EventEnvelope(Offset.Sequence(raw.sqlite3_last_insert_rowid(sqlite.Handle)), row.PersistenceId, row.SequenceNr, row.Payload, row.Created, []));
            }
        }
        else
        {
            await using var commands = connection.CreateBatch();
            commands.Transaction = transaction;
            foreach (var row in rows)
            {
                var command = commands.CreateBatchCommand();
                command.CommandText = _insertSql;
                var values = Fill(new object[_parameters.Length], row);
                for (var i = 0; i < values.Length; i++)
                {
                    var parameter = command.CreateParameter();
                    parameter.ParameterName = _parameters[i];
                    parameter.Value = values[i];
                    command.Parameters.Add(parameter);
                }
                commands.BatchCommands.Add(command);
            }
            await commands.ExecuteNonQueryAsync();
        }
        await transaction.CommitAsync();
        if (committed is not null) _tail!.Committed(committed);
    }

    /// <summary>The deleted column's value, boxed once rather than for every row.</summary>
    private static readonly object NotDeleted = false;

    /// <summary>Puts a row's values into <paramref name="values"/> in the INSERT's column order.</summary>
    private object[] Fill(object[] values, Row row)
    {
        values[0] = row.PersistenceId;
        values[1] = row.SequenceNr;
        values[2] = NotDeleted;
        values[3] = row.Message;
        values[4] = row.Serializer;
        values[5] = row.Manifest;
        values[6] = row.Created;
        var next = 7;
        if (_writerUuidColumn) values[next++] = row.Writer;
        if (_tagsColumn) values[next] = string.Empty;
        return values;
    }
}
