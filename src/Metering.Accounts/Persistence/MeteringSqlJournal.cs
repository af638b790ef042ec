using System.Collections.Concurrent;
using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Sql.Journal;

namespace Metering.Accounts.Persistence;

/// <summary>
/// Akka.Persistence.Sql's journal (its tables, their creation, deletes, the circuit breaker of its
/// reads) with the two hot paths made plainly: writes by <see cref="JournalWrites"/> and a recovering
/// account's reads by <see cref="RecoveryReads"/>, one prepared statement per row or read instead of
/// SQL that linq2db builds for each call.
/// </summary>
/// <remarks>
/// Once the tables are ready, a write is answered here, not by Akka's <see cref="AsyncWriteJournal"/>:
/// that sends every answer through one resequencer actor (so they leave in the order the writes
/// came, though a persistent actor has only one write in flight), copies each write through the
/// event adapters, and runs it under a circuit breaker with a timer of its own. Per account and
/// batch that was two more messages through one actor and a tenth of the bytes allocated at
/// 20,000 events/s (docs/benchmarks.md, session 21). A write that hangs is bounded by the database's
/// command timeout instead of the breaker's; a failed one fails its writers as before.
/// </remarks>
public sealed class MeteringSqlJournal : SqlWriteJournal
{
    private readonly RecoveryReads _reads;
    private readonly JournalWrites _writes;
    /// <summary>Whether writes are answered here: once the base journal has its tables, and only without event adapters, which it would apply.</summary>
    private bool _answering;
    private readonly bool _adapted;

    /// <summary>Each persistence id's write in flight: its highest sequence number is read only after it (as the base journal does).</summary>
    private readonly ConcurrentDictionary<string, Task> _writing = new(StringComparer.Ordinal);

    /// <summary>
    /// The plugin settings (inside <c>akka.persistence.journal.sql</c>) that make the journal this class,
    /// with Akka's replay filter off. The filter discards replayed events it takes for an old writer's;
    /// here the table's unique (persistence id, sequence number) index already lets one writer have each
    /// sequence number. And journals written before rows carried the incarnation's writer id hold one id
    /// per node, which the filter misreads when an account moved away and back (its later events dropped).
    /// Off, a recovery also no longer runs through a filter actor of its own.
    /// </summary>
    public static string PluginSettings => $"""
        class = "{typeof(MeteringSqlJournal).AssemblyQualifiedName}"
        replay-filter.mode = off
        """;

    public MeteringSqlJournal(Config journalConfig) : base(journalConfig)
    {
        var database = JournalDatabase.ForPlugin(journalConfig);
        _reads = new RecoveryReads(database, Context.System.Serialization, journalConfig);
        _writes = new JournalWrites(database, (ExtendedActorSystem)Context.System, journalConfig);
        _adapted = journalConfig.GetConfig("event-adapter-bindings") is { IsEmpty: false };
    }

    protected override void PreStart()
    {
        base.PreStart();
        // The base journal holds every message until its tables are ready, then answers this one.
        Self.Tell(new ReplayMessages(0, 0, 0, ReadyProbe, Self), Self);
    }

    /// <summary>The persistence id of the replay that tells this journal its tables are ready; nothing is written under it.</summary>
    private const string ReadyProbe = "metering-journal-ready";

    protected override bool AroundReceive(Receive receive, object message)
    {
        switch (message)
        {
            case WriteMessages write when _answering:
                Write(write);
                return true;
            case RecoverySuccess:
                _answering = !_adapted;
                return true;
            case ReplayMessagesFailure:
                // Writes stay with the base journal, as they were before this class answered them.
                return true;
            case DeleteMessagesTo:
                // The feed then reads the journal, which leaves deleted events out.
                JournalTail.For(Context.System).Forget();
                return base.AroundReceive(receive, message);
            default:
                return base.AroundReceive(receive, message);
        }
    }

    private void Write(WriteMessages write)
    {
        var messages = write.Messages as IReadOnlyList<IPersistentEnvelope> ?? write.Messages.ToList();
        var atomic = new List<AtomicWrite>(messages.Count);
        for (var i = 0; i < messages.Count; i++)
            if (messages[i] is AtomicWrite w) atomic.Add(w);
        var answer = new Answer(_writing, atomic.Count > 0 ? atomic[0].PersistenceId : "", Self, write, messages, atomic.Count);
        if (atomic.Count == 0) answer.Send(null, null);
        else Start(atomic).ContinueWith(static (written, state) => ((Answer)state!).Send(written),
            answer, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>
    /// What <see cref="AsyncWriteJournal"/> answers a write, in its order: the outcome of the whole
    /// (on which the actor sends its next write), then each event's or deferred handler's, from its sender.
    /// </summary>
    private sealed record Answer(ConcurrentDictionary<string, Task> InFlight, string PersistenceId, IActorRef Journal, WriteMessages Write,
        IReadOnlyList<IPersistentEnvelope> Messages, int AtomicWrites) : Writing(InFlight, PersistenceId)
    {
        public void Send(Task<IImmutableList<Exception>> written)
        {
            // Forgotten before the actor hears of it: its next recovery need not wait for this write.
            Done(written);
            if (written.IsCompletedSuccessfully) Send(written.Result, null);
            else Send(null, written.Exception is { } failure ? TryUnwrapException(failure) : new TaskCanceledException(written));
        }

        /// <param name="rejected">Null, or per atomic write the reason it was rejected (null where it was written).</param>
        /// <param name="failed">Why the whole write failed; then every event of it failed.</param>
        public void Send(IImmutableList<Exception>? rejected, Exception? failed)
        {
            var actor = Write.PersistentActor;
            var instance = Write.ActorInstanceId;
            actor.Tell(failed is null ? WriteMessagesSuccessful.Instance : new WriteMessagesFailed(failed, AtomicWrites), Journal);
            var atomicIndex = 0;
            for (var i = 0; i < Messages.Count; i++)
            {
                if (Messages[i] is not AtomicWrite write)
                {
                    actor.Tell(new LoopMessageSuccess(Messages[i].Payload, instance), Messages[i].Sender);
                    continue;
                }
                var rejection = rejected?[atomicIndex];
                atomicIndex++;
                var events = (IImmutableList<IPersistentRepresentation>)write.Payload;
                for (var j = 0; j < events.Count; j++)
                {
                    var e = events[j];
                    actor.Tell(failed is not null ? new WriteMessageFailure(e, failed, instance)
                        : rejection is not null ? new WriteMessageRejected(e, rejection, instance)
                        : new WriteMessageSuccess(e, instance), e.Sender);
                }
            }
            // The persistent actor sent its batch list and took a new one, made when its previous write
            // was sent: that list is often promoted by the time the events are added, and a promoted
            // list kept everything written reachable until an older collection. Emptied, it keeps
            // nothing (docs/benchmarks.md, session 22).
            if (Write.Messages is List<IPersistentEnvelope> sent) sent.Clear();
        }
    }

    protected override void PostStop()
    {
        _writes.Complete();
        _reads.Dispose();
        base.PostStop();
    }

    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        var writes = messages as IReadOnlyList<AtomicWrite> ?? messages.ToList();
        // A batch of deferred handlers alone has nothing to write (the base journal failed on it).
        if (writes.Count == 0) return Task.FromResult<IImmutableList<Exception>>(null!);
        var written = Start(writes);
        written.ContinueWith(static (done, state) => ((Writing)state!).Done(done),
            new Writing(_writing, writes[0].PersistenceId), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return written;
    }

    /// <summary>Queues the rows, and keeps the write as its persistence id's in flight until <see cref="Writing.Done"/>.</summary>
    private Task<IImmutableList<Exception>> Start(IReadOnlyList<AtomicWrite> writes)
    {
        var written = _writes.WriteAsync(writes);
        _writing[writes[0].PersistenceId] = written;
        return written;
    }

    /// <summary>A persistence id's write in flight, to forget once it ended (unless a later one replaced it).</summary>
    private record Writing(ConcurrentDictionary<string, Task> InFlight, string PersistenceId)
    {
        public void Done(Task write) => InFlight.TryRemove(new KeyValuePair<string, Task>(PersistenceId, write));
    }

    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        // Whether that write succeeded or not, the number is read after it.
        if (_writing.TryGetValue(persistenceId, out var write))
            await write.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return await _reads.HighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken);
    }

    public override Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max,
        Action<IPersistentRepresentation> recoveryCallback) =>
        _reads.ReplayAsync(persistenceId, fromSequenceNr, toSequenceNr, max, recoveryCallback);
}
