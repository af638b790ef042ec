using Metering.Ingestion.Consumer;

namespace Metering.Ingestion.Tests.Consumer;

public sealed class RetentionGapsTests
{
    private const int P0 = 0, P1 = 1;

    [Fact]
    public void A_record_past_the_expected_offset_is_a_skip_and_only_that()
    {
        var gaps = new RetentionGaps();
        gaps.Expect(P0, 5);
        Assert.Equal(5, gaps.Skipped(P0, 40));
        Assert.Null(gaps.Skipped(P0, 41));
        Assert.Equal(42, gaps.Skipped(P0, 43));
        // No committed offset: nothing to compare the first record with.
        Assert.Null(gaps.Skipped(P1, 100));
        Assert.Null(gaps.Skipped(P1, 101));
    }

    [Fact]
    public void Rewinds_redeliveries_and_forgotten_partitions_are_not_skips()
    {
        var gaps = new RetentionGaps();
        gaps.Expect(P0, 7);
        Assert.Null(gaps.Skipped(P0, 7));
        Assert.Null(gaps.Skipped(P0, 8));
        // A failed batch rewound to 7 reads 7 again.
        gaps.Expect(P0, 7);
        Assert.Null(gaps.Skipped(P0, 7));
        // Read again from an older offset (a redelivery) is not a skip either.
        Assert.Null(gaps.Skipped(P0, 3));
        // A revoked partition forgets where it was; re-assigned, it expects its commit again.
        gaps.Forget(P0);
        Assert.Null(gaps.Skipped(P0, 500));
    }

    [Theory]
    // The log now starts at 40 and the consumer was reset to it: 5..39 were deleted unread.
    [InlineData(5, 40, 40, 35)]
    // Deleted up to 50 while the consumer expected 44, but it was handed 60: only 44..49 are known deleted.
    [InlineData(44, 60, 50, 6)]
    // Skipped offsets still in the log (a transaction marker at 42) are not loss.
    [InlineData(42, 43, 40, 0)]
    [InlineData(42, 43, 42, 0)]
    public void Lost_are_the_skipped_offsets_the_log_no_longer_holds(long expected, long offset, long logStart, long lost) =>
        Assert.Equal(lost, RetentionGaps.Lost(expected, offset, logStart));
}
