namespace Metering.Ingestion.Consumer;

/// <summary>What readiness needs to know about the consumer, updated from its thread.</summary>
public sealed class IngestionStatus
{
    private int _joined;
    private int _assignedPartitions;

    /// <summary>The consumer has joined its group and received an assignment (possibly empty, when there are more nodes than partitions).</summary>
    public bool Joined => Volatile.Read(ref _joined) == 1;
    public int AssignedPartitions => Volatile.Read(ref _assignedPartitions);

    internal void Assigned(int count)
    {
        Volatile.Write(ref _assignedPartitions, count);
        Volatile.Write(ref _joined, 1);
    }

    internal void Left()
    {
        Volatile.Write(ref _joined, 0);
        Volatile.Write(ref _assignedPartitions, 0);
    }
}
