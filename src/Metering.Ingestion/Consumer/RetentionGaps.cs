namespace Metering.Ingestion.Consumer;

/// <summary>
/// Notices usage the broker deleted before this node read it. Offsets on a partition come one after
/// another, so a record past the one expected means the consumer skipped some; they were lost only if
/// the log no longer starts before them (retention deleted them and the consumer's
/// <c>auto.offset.reset</c> jumped over the hole). Other skipped offsets, such as transaction markers,
/// are still in the log and are not loss. The expected offset starts at the group's committed offset,
/// so an engine that was down longer than the topic's retention finds out on its first read.
/// Partitions are the usage topic's, by number: a record's <c>TopicPartition</c> is made anew on
/// every read and hashes the topic's name.
/// </summary>
public sealed class RetentionGaps
{
    private readonly Dictionary<int, long> _next = [];

    /// <summary>The next record this consumer should read on <paramref name="partition"/> (after a commit is fetched, or a rewind).</summary>
    public void Expect(int partition, long offset) => _next[partition] = offset;

    public void Forget(int partition) => _next.Remove(partition);

    /// <summary>
    /// Notes <paramref name="offset"/> as read on <paramref name="partition"/>; answers the offset that
    /// was expected instead when the record skips past it (then ask <see cref="Lost"/> with the log's start).
    /// </summary>
    public long? Skipped(int partition, long offset)
    {
        long? skipped = _next.TryGetValue(partition, out var expected) && offset > expected ? expected : null;
        _next[partition] = offset + 1;
        return skipped;
    }

    /// <summary>Of the offsets from <paramref name="expected"/> to <paramref name="offset"/>, those no longer in a log that starts at <paramref name="logStart"/>.</summary>
    public static long Lost(long expected, long offset, long logStart) =>
        logStart > expected ? Math.Min(offset, logStart) - expected : 0;
}
