using Akka.Actor;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.TestKit.Xunit2;

namespace Metering.Accounts.Tests;

/// <summary>The engine's journal with writes Akka's contract allows but accounts never make: ones it rejects.</summary>
public sealed class MeteringSqlJournalTests : TestKit
{
    private readonly string _dataDir;

    public MeteringSqlJournalTests() : this(Directory.CreateTempSubdirectory("metering-journal-").FullName)
    {
    }

    private MeteringSqlJournalTests(string dataDir) : base(SqlJournalConfig.For(dataDir)) => _dataDir = dataDir;

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void Payloads_that_cannot_be_serialized_or_are_tagged_are_rejected_alone()
    {
        var recorder = Sys.ActorOf(Props.Create(() => new Recorder("recorder-1")));
        recorder.Tell(new Write("a"), TestActor);
        ExpectMsg("written a");
        recorder.Tell(new Write(new Unserializable()), TestActor);
        Assert.StartsWith("rejected", ExpectMsg<string>());
        recorder.Tell(new Write(new Tagged("t", ["tag"])), TestActor);
        ExpectMsg("rejected NotSupportedException");
        recorder.Tell(new Write("b"), TestActor);
        ExpectMsg("written b");
        recorder.Tell(new Write("c"), TestActor);
        ExpectMsg("written c");

        Watch(recorder);
        Sys.Stop(recorder);
        ExpectTerminated(recorder);
        recorder = Sys.ActorOf(Props.Create(() => new Recorder("recorder-1")));
        recorder.Tell("state", TestActor);
        ExpectMsg("a,b,c");
    }

    [Fact]
    public void An_actor_that_moves_to_another_node_and_back_keeps_every_event_at_its_next_recovery()
    {
        // Two nodes on one database, each with its journal: recorder-2 writes on this one, then on the
        // other, then here again, as a shard that moved away and back.
        using var other = ActorSystem.Create("other", SqlJournalConfig.For(_dataDir));
        WriteOnce(Sys, "a");
        WriteOnce(other, "b");
        WriteOnce(Sys, "c");

        var recorder = Sys.ActorOf(Props.Create(() => new Recorder("recorder-2")));
        recorder.Tell("state", TestActor);
        ExpectMsg("a,b,c");
    }

    [Fact]
    public void A_journal_written_with_one_writer_id_per_node_keeps_every_event_of_an_actor_that_moved_away_and_back()
    {
        // Before 1341172 rows carried the node's writer id, not the incarnation's: an actor written on
        // node A, then B, then A again reads A, B, A, which Akka's replay filter takes for an old writer
        // coming back and (in its default mode) discards at the next recovery.
        WriteOnce(Sys, "a");
        WriteOnce(Sys, "b");
        WriteOnce(Sys, "c");
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection(Persistence.JournalDatabase.Sqlite(_dataDir).ConnectionString))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                UPDATE journal SET writer_uuid = CASE sequence_number WHEN 2 THEN 'node-b' ELSE 'node-a' END
                WHERE persistence_id = 'recorder-2'
                """;
            Assert.Equal(3, command.ExecuteNonQuery());
        }

        var recorder = Sys.ActorOf(Props.Create(() => new Recorder("recorder-2")));
        recorder.Tell("state", TestActor);
        ExpectMsg("a,b,c");
    }

    [Fact]
    public void Events_and_deferred_handlers_of_a_write_are_answered_in_order_to_their_senders()
    {
        var recorder = Sys.ActorOf(Props.Create(() => new Recorder("recorder-3")));
        var other = CreateTestProbe();
        recorder.Tell(new WriteAll(["x", "y"], "after x and y"), TestActor);
        recorder.Tell(new WriteAll(["z"], null), other.Ref);
        recorder.Tell(new WriteAll([], "nothing written"), TestActor);

        ExpectMsg("written x");
        ExpectMsg("written y");
        ExpectMsg("deferred after x and y");
        ExpectMsg("deferred nothing written");
        other.ExpectMsg("written z");

        recorder.Tell("state", TestActor);
        ExpectMsg("x,y,z");
        recorder.Tell("last", TestActor);
        ExpectMsg(3L);
    }

    [Fact]
    public void A_write_that_fails_stops_its_writer_and_keeps_what_was_written_before()
    {
        // Two incarnations of one persistence id, as a split brain would make: the second to write
        // number 2 breaks the table's unique key, so its whole write fails.
        var first = Sys.ActorOf(Props.Create(() => new Recorder("recorder-4")));
        first.Tell(new Write("a"), TestActor);
        ExpectMsg("written a");
        var second = Sys.ActorOf(Props.Create(() => new Recorder("recorder-4")));
        second.Tell("state", TestActor);
        ExpectMsg("a");
        first.Tell(new Write("b"), TestActor);
        ExpectMsg("written b");

        Watch(second);
        second.Tell(new Write("c"), TestActor);
        Assert.StartsWith("failed c", ExpectMsg<string>());
        ExpectTerminated(second);

        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);
        var recovered = Sys.ActorOf(Props.Create(() => new Recorder("recorder-4")));
        recovered.Tell("state", TestActor);
        ExpectMsg("a,b");
    }

    [Fact]
    public void A_write_it_answered_no_longer_holds_its_events()
    {
        // A persistent actor sends its batch list and starts another: once answered, the sent list must
        // not keep the events reachable (docs/benchmarks.md, session 22).
        WriteOnce(Sys, "a"); // the journal's tables are ready
        var journal = Akka.Persistence.Persistence.Instance.Apply(Sys).JournalFor(null);
        var sequenceNr = 0L;
        AwaitAssert(() =>
        {
            // Until the journal has seen its own start-up probe answered, the base journal answers writes.
            var events = new List<IPersistentEnvelope> { new AtomicWrite(new Persistent("x", ++sequenceNr, "direct-1", sender: TestActor, writerGuid: "w")) };
            journal.Tell(new WriteMessages(events, TestActor, 1));
            ExpectMsg<WriteMessagesSuccessful>();
            Assert.Equal(sequenceNr, ExpectMsg<WriteMessageSuccess>().Persistent.SequenceNr);
            Assert.Empty(events);
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(50));
    }

    /// <summary>Starts recorder-2 on <paramref name="system"/>, writes <paramref name="payload"/> and stops it.</summary>
    private void WriteOnce(ActorSystem system, string payload)
    {
        var recorder = system.ActorOf(Props.Create(() => new Recorder("recorder-2")));
        recorder.Tell(new Write(payload), TestActor);
        ExpectMsg($"written {payload}");
        Watch(recorder);
        system.Stop(recorder);
        ExpectTerminated(recorder);
    }

    private sealed record Write(object Payload);

    /// <summary>Persists the payloads in one write, then defers <paramref name="Deferred"/> behind them (if any).</summary>
    private sealed record WriteAll(string[] Payloads, string? Deferred);

    /// <summary>The JSON serializer fails on it: reading its property throws.</summary>
    private sealed class Unserializable
    {
        public string Value => throw new InvalidOperationException("not serializable");
    }

    private sealed class Recorder : ReceivePersistentActor
    {
        private readonly List<string> _seen = [];

        public Recorder(string id)
        {
            PersistenceId = id;
            Recover<string>(_seen.Add);
            Command<Write>(m => Persist(m.Payload, e =>
            {
                var text = (string)e;
                _seen.Add(text);
                Sender.Tell($"written {text}");
            }));
            Command<WriteAll>(m =>
            {
                PersistAll(m.Payloads, e =>
                {
                    _seen.Add(e);
                    Sender.Tell($"written {e}");
                });
                if (m.Deferred is { } deferred) DeferAsync(deferred, d => Sender.Tell($"deferred {d}"));
            });
            Command<string>(m => Sender.Tell(m == "last" ? LastSequenceNr : string.Join(",", _seen)));
        }

        public override string PersistenceId { get; }

        protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr) =>
            Sender.Tell($"rejected {cause.GetType().Name}");

        protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr) =>
            Sender.Tell($"failed {@event} {cause.GetType().Name}");
    }
}
