namespace Metering.Ingestion.Consumer;

/// <summary>
/// What the consumer keeps of a batch in flight: how many records it had and each partition's first
/// and last offset, enough to commit past it or rewind to it. The records themselves (keys, values,
/// headers) are let go as they are parsed, so a batch waiting for its persists does not carry them
/// through garbage collections.
/// </summary>
internal sealed class BatchOffsets
{
    private readonly Dictionary<int, (long First, long Last)> _ranges = [];

    public int Count { get; private set; }

    /// <summary>Partition, first offset and last offset.</summary>
    public IEnumerable<(int Partition, long First, long Last)> Ranges => _ranges.Select(r => (r.Key, r.Value.First, r.Value.Last));

    public void Add(int partition, long offset)
    {
        Count++;
        _ranges[partition] = _ranges.TryGetValue(partition, out var range)
            ? (Math.Min(range.First, offset), Math.Max(range.Last, offset))
            : (offset, offset);
    }
}
