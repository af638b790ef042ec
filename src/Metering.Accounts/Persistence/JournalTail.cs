using Akka.Actor;
using Akka.Persistence.Query;

namespace Metering.Accounts.Persistence;

/// <summary>
/// The journal rows this process commits, as the envelopes the feed would read back, handed to the
/// one feed that follows the journal here (the projections'). Reading back and deserializing every
/// row just written was about a tenth of the bytes the engine allocated with one or two events per
/// account and batch (docs/benchmarks.md, session 24). It is only a shortcut: the feed takes from it
/// only the rows that follow its offset without a hole, and reads the journal for anything else
/// (rows written before it followed, by another process, or dropped here because it fell behind).
/// </summary>
public sealed class JournalTail : IExtension
{
    /// <summary>
    /// Rows kept for a feed that has not taken them: a few of the projections' 100-ms waits of rows at
    /// half load (one row per event). Beyond that the oldest are dropped and read from the journal.
    /// </summary>
    public const int DefaultCapacity = 50_000;

    private readonly int _capacity;
    private Follower? _follower;

    public JournalTail(int capacity = DefaultCapacity) => _capacity = capacity;

    public static JournalTail For(ActorSystem system) => system.WithExtension<JournalTail, Provider>();

    private sealed class Provider : ExtensionIdProvider<JournalTail>
    {
        public override JournalTail CreateExtension(ExtendedActorSystem system) => new();
    }

    /// <summary>Whether a feed follows: the journal makes envelopes for it only then.</summary>
    public bool Followed => Volatile.Read(ref _follower) is not null;

    /// <summary>Rows handed on from here rather than read back (for tests).</summary>
    public long Handed => Interlocked.Read(ref _handed);

    private long _handed;

    /// <summary>Starts following; a feed that followed before gets nothing more and reads the journal.</summary>
    public Follower Follow()
    {
        var follower = new Follower(this);
        Volatile.Write(ref _follower, follower);
        return follower;
    }

    /// <summary>Rows of one committed transaction, in the order the journal numbered them.</summary>
    public void Committed(IReadOnlyList<EventEnvelope> rows) => Volatile.Read(ref _follower)?.Add(rows);

    /// <summary>Drops what is kept (events were deleted): the feed reads the journal, which leaves them out.</summary>
    public void Forget() => Volatile.Read(ref _follower)?.Clear();

    public sealed class Follower : IDisposable
    {
        private readonly JournalTail _tail;
        private readonly Queue<EventEnvelope> _rows = new();

        internal Follower(JournalTail tail) => _tail = tail;

        internal void Add(IReadOnlyList<EventEnvelope> rows)
        {
            lock (_rows)
            {
                if (_rows.Count + rows.Count > _tail._capacity) _rows.Clear(); // behind: the journal has them
                for (var i = 0; i < rows.Count; i++) _rows.Enqueue(rows[i]);
            }
        }

        internal void Clear()
        {
            lock (_rows) _rows.Clear();
        }

        /// <summary>
        /// Adds to <paramref name="batch"/> the rows numbered <paramref name="after"/> + 1, + 2, … that are
        /// kept here, up to <paramref name="max"/>, dropping those at or before <paramref name="after"/>
        /// (the feed read them from the journal). False when the next row is not here.
        /// </summary>
        public bool TryTake(long after, int max, List<EventEnvelope> batch)
        {
            var took = 0;
            lock (_rows)
            {
                while (_rows.TryPeek(out var row) && Ordering(row) <= after) _rows.Dequeue();
                while (took < max && _rows.TryPeek(out var row) && Ordering(row) == after + 1)
                {
                    batch.Add(_rows.Dequeue());
                    after++;
                    took++;
                }
            }
            Interlocked.Add(ref _tail._handed, took);
            return took > 0;
        }

        private static long Ordering(EventEnvelope row) => ((Sequence)row.Offset).Value;

        public void Dispose()
        {
            Interlocked.CompareExchange(ref _tail._follower, null, this);
            Clear();
        }
    }
}
