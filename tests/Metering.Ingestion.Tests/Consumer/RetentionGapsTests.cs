using Confluent.Kafka;
using Metering.Ingestion.Consumer;

namespace Metering.Ingestion.Tests.Consumer;

public sealed class RetentionGapsTests
{
    private static readonly TopicPartition P0 = new("metering.usage", 0);
    private static readonly TopicPartition P1 = new("metering.usage", 1);

    [Fact]
    public void Offsets_skipped_below_the_start_of_the_log_are_lost_and_only_those()
    {
        var gaps = new RetentionGaps();
        gaps.Expect(P0, 5);
        // The log now starts at 40 and the consumer was reset to it: 5..39 were deleted unread.
        Assert.Equal(35, gaps.Lost(P0, 40, () => 40));
        Assert.Equal(0, gaps.Lost(P0, 41, () => throw new InvalidOperationException("no gap, no broker query")));
        // Skipped offsets still in the log (a transaction marker at 42) are not loss.
        Assert.Equal(0, gaps.Lost(P0, 43, () => 40));
        // Deleted up to 50 while the consumer was at 44, but it was handed 60: only 44..49 are known deleted.
        Assert.Equal(6, gaps.Lost(P0, 60, () => 50));
    }

    [Fact]
    public void Rewinds_redeliveries_and_partitions_without_a_start_are_not_loss()
    {
        var gaps = new RetentionGaps();
        // No committed offset: nothing to compare the first record with.
        Assert.Equal(0, gaps.Lost(P1, 100, () => 100));
        Assert.Equal(0, gaps.Lost(P0, 7, () => 7));
        Assert.Equal(0, gaps.Lost(P0, 8, () => 7));
        // A failed batch rewound to 7 reads 7 again.
        gaps.Expect(P0, 7);
        Assert.Equal(0, gaps.Lost(P0, 7, () => 7));
        // A revoked partition forgets where it was; re-assigned, it expects its commit again.
        gaps.Forget(P0);
        Assert.Equal(0, gaps.Lost(P0, 500, () => 500));
    }
}
