using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;
using Akka.TestKit.Xunit2;
using Metering.Accounts.Persistence;

namespace Metering.Accounts.Tests;

/// <summary>The projections' feed of the whole journal on SQLite, against Akka.Persistence.Sql's read journal it replaces there.</summary>
public sealed class JournalFeedTests : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromMilliseconds(50);
    private readonly string _dataDir;

    public JournalFeedTests() : this(Directory.CreateTempSubdirectory("metering-feed-").FullName)
    {
    }

    private JournalFeedTests(string dataDir) : base(WithReadJournal(dataDir)) => _dataDir = dataDir;

    /// <summary>The journal's configuration and Akka.Persistence.Sql's read journal on the same database, to compare with.</summary>
    private static Config WithReadJournal(string dataDir) =>
        ConfigurationFactory.ParseString($$"""
            akka.persistence.query.journal.sql {
              connection-string = "{{JournalDatabase.Sqlite(dataDir).ConnectionString}}"
              provider-name = "{{LinqToDB.ProviderName.SQLiteMS}}"
              # Its sequence actor's polls: the default second, ten times over, made the test wait.
              journal-sequence-retrieval.query-delay = 50ms
            }
            """).WithFallback(SqlJournalConfig.For(dataDir));

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task It_gives_what_the_read_journal_gives_in_batches_no_larger_than_asked()
    {
        var writers = new[] { "feed-a", "feed-b", "feed-c" }.Select(id => Sys.ActorOf(Props.Create(() => new Writer(id)))).ToList();
        for (var i = 0; i < 7; i++)
            foreach (var writer in writers) Write(writer, $"{i}");
        // A deleted event is left out by both.
        writers[1].Tell(new Delete(2), TestActor);
        ExpectMsg("deleted");

        var expected = await ReadJournalAsync(0);
        Assert.Equal(19, expected.Count); // 21 written, 2 deleted
        var feed = JournalFeed.For(Sys, batchSize: 4, batchWait: Wait);
        var batches = await FollowAsync(feed, 0, expected.Count);
        Assert.All(batches, b => Assert.InRange(b.Count, 1, 4));
        Assert.Equal(expected.Select(Describe), batches.SelectMany(b => b).Select(Describe));

        // From an offset: only what follows it.
        var from = ((Sequence)expected[11].Offset).Value;
        var later = await FollowAsync(feed, from, expected.Count - 12);
        Assert.Equal(expected.Skip(12).Select(Describe), later.SelectMany(b => b).Select(Describe));
    }

    [Fact]
    public async Task It_follows_what_is_written_while_it_runs_and_ends_when_cancelled()
    {
        var writer = Sys.ActorOf(Props.Create(() => new Writer("feed-live")));
        Write(writer, "first");
        var feed = JournalFeed.For(Sys, batchSize: 100, batchWait: Wait);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var seen = new List<string>();
        var followed = Task.Run(async () =>
        {
            await foreach (var batch in feed.FollowAsync(0, cancel.Token))
                lock (seen) seen.AddRange(batch.Select(e => (string)e.Event));
        });

        await AwaitAssertAsync(() => { lock (seen) Assert.Equal(["first"], seen); });
        Write(writer, "second");
        Write(writer, "third");
        await AwaitAssertAsync(() => { lock (seen) Assert.Equal(["first", "second", "third"], seen); });

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => followed);
    }

    [Fact]
    public async Task What_this_process_commits_while_it_follows_is_handed_on_as_the_journal_holds_it()
    {
        var writers = new[] { "tail-a", "tail-b" }.Select(id => Sys.ActorOf(Props.Create(() => new Writer(id)))).ToList();
        Write(writers[0], "before");
        var feed = JournalFeed.For(Sys, batchSize: 3, batchWait: Wait);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var seen = new List<EventEnvelope>();
        var followed = Task.Run(async () =>
        {
            await foreach (var batch in feed.FollowAsync(0, cancel.Token))
            {
                Assert.InRange(batch.Count, 1, 3);
                lock (seen) seen.AddRange(batch);
            }
        });
        await AwaitAssertAsync(() => { lock (seen) Assert.Single(seen); });

        var handed = JournalTail.For(Sys).Handed;
        for (var i = 0; i < 5; i++)
            foreach (var writer in writers) Write(writer, $"{i}");
        var expected = await ReadJournalAsync(0);
        Assert.Equal(11, expected.Count);
        await AwaitAssertAsync(() => { lock (seen) Assert.Equal(expected.Select(Describe), seen.Select(Describe)); });
        // Not read back: the ten written while it followed came from the tail, but for one the feed's read
        // of the journal may have found between its commit and its hand-off.
        Assert.InRange(JournalTail.For(Sys).Handed - handed, 8, 10);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => followed);
    }

    private void Write(IActorRef writer, string payload)
    {
        writer.Tell(payload, TestActor);
        ExpectMsg($"written {payload}");
    }

    private async Task<List<EventEnvelope>> ReadJournalAsync(long after) =>
        [.. await PersistenceQuery.Get(Sys).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier)
            .CurrentAllEvents(Offset.Sequence(after))
            .RunWith(Sink.Seq<EventEnvelope>(), Sys.Materializer())];

    /// <summary>Follows <paramref name="feed"/> from <paramref name="after"/> until <paramref name="count"/> events came.</summary>
    private static async Task<List<IReadOnlyList<EventEnvelope>>> FollowAsync(JournalFeed feed, long after, int count)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var batches = new List<IReadOnlyList<EventEnvelope>>();
        await foreach (var batch in feed.FollowAsync(after, cancel.Token))
        {
            batches.Add(batch);
            if (batches.Sum(b => b.Count) >= count) break;
        }
        return batches;
    }

    private static string Describe(EventEnvelope e) =>
        $"{((Sequence)e.Offset).Value} {e.PersistenceId} {e.SequenceNr} {e.Event} {e.Timestamp}";

    private sealed record Delete(long ToSequenceNr);

    private sealed class Writer : ReceivePersistentActor
    {
        public Writer(string id)
        {
            PersistenceId = id;
            IActorRef? deleting = null;
            Command<string>(m => Persist(m, e => Sender.Tell($"written {e}")));
            Command<Delete>(d =>
            {
                deleting = Sender;
                DeleteMessages(d.ToSequenceNr);
            });
            Command<DeleteMessagesSuccess>(_ => deleting?.Tell("deleted"));
        }

        public override string PersistenceId { get; }
    }
}
