namespace Metering.Ingestion.Consumer;

/// <summary>What readiness needs to know about the consumer, updated from its thread.</summary>
/// <param name="time">Real time: "stuck" is about the machine making progress, whatever clock the accounts run on.</param>
public sealed class IngestionStatus(TimeProvider time)
{
    private int _joined;
    private volatile int[] _partitions = [];
    private int _behind;
    private long _lastProgress = time.GetTimestamp();

    /// <summary>The consumer has joined its group and received an assignment (possibly empty, when there are more nodes than partitions).</summary>
    public bool Joined => Volatile.Read(ref _joined) == 1;
    public int AssignedPartitions => _partitions.Length;

    /// <summary>The usage-topic partitions this node's consumer holds now, in order.</summary>
    public IReadOnlyList<int> Partitions => _partitions;

    /// <summary>Records wait for this node: unread on its partitions, or read and not committed yet.</summary>
    public bool Behind => Volatile.Read(ref _behind) == 1;

    /// <summary>Since the consumer last had nothing to do, committed a batch, or was (re)assigned.</summary>
    public TimeSpan SinceProgress => time.GetElapsedTime(Volatile.Read(ref _lastProgress));

    /// <summary>The whole assignment after a rebalance.</summary>
    internal void Assigned(IEnumerable<int> partitions)
    {
        _partitions = partitions.Distinct().Order().ToArray();
        Volatile.Write(ref _joined, 1);
        Progressed();
    }

    internal void Revoked(IEnumerable<int> partitions) => _partitions = _partitions.Except(partitions).ToArray();

    internal void Left()
    {
        Volatile.Write(ref _joined, 0);
        _partitions = [];
        Volatile.Write(ref _behind, 0);
    }

    /// <summary>After a poll: a batch in hand or unread records (<paramref name="lag"/>) mean work is waiting; neither is progress of a kind.</summary>
    internal void Polled(int batch, long lag)
    {
        if (batch == 0 && lag == 0)
        {
            Volatile.Write(ref _behind, 0);
            Progressed();
        }
        else
        {
            Volatile.Write(ref _behind, 1);
        }
    }

    /// <summary>A batch was persisted and its offsets committed.</summary>
    internal void Committed() => Progressed();

    private void Progressed() => Volatile.Write(ref _lastProgress, time.GetTimestamp());
}
