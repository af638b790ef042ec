using Confluent.Kafka;

namespace Metering.Ingestion.Consumer;

/// <summary>
/// Notices usage the broker deleted before this node read it. Offsets on a partition come one after
/// another, so a record past the one expected means the consumer skipped some; they were lost only if
/// the log no longer starts before them (retention deleted them and the consumer's
/// <c>auto.offset.reset</c> jumped over the hole). Other skipped offsets, such as transaction markers,
/// are still in the log and are not loss. The expected offset starts at the group's committed offset,
/// so an engine that was down longer than the topic's retention finds out on its first read.
/// </summary>
public sealed class RetentionGaps
{
    private readonly Dictionary<TopicPartition, long> _next = [];

    /// <summary>The next record this consumer should read on <paramref name="partition"/> (after a commit is fetched, or a rewind).</summary>
    public void Expect(TopicPartition partition, long offset) => _next[partition] = offset;

    public void Forget(TopicPartition partition) => _next.Remove(partition);

    /// <summary>Records lost before <paramref name="offset"/>; <paramref name="logStart"/> (a broker round trip) is asked only when offsets were skipped.</summary>
    public long Lost(TopicPartition partition, long offset, Func<long> logStart)
    {
        var lost = 0L;
        if (_next.TryGetValue(partition, out var expected) && offset > expected)
        {
            var start = logStart();
            if (start > expected) lost = Math.Min(offset, start) - expected;
        }
        _next[partition] = offset + 1;
        return lost;
    }
}
