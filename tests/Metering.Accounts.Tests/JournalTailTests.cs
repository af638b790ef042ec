using Akka.Persistence.Query;
using Metering.Accounts.Persistence;

namespace Metering.Accounts.Tests;

/// <summary>What the journal's tail hands its follower: only rows that follow its offset without a hole.</summary>
public sealed class JournalTailTests
{
    [Fact]
    public void It_hands_on_only_rows_that_follow_the_offset_without_a_hole()
    {
        var tail = new JournalTail(capacity: 10);
        Assert.False(tail.Followed);
        tail.Committed(Rows(1, 2)); // nobody follows: kept nowhere
        using var follower = tail.Follow();
        Assert.True(tail.Followed);

        tail.Committed(Rows(3, 4, 5));
        var batch = new List<EventEnvelope>();
        Assert.False(follower.TryTake(1, 10, batch)); // row 2 is not here: the feed reads the journal
        Assert.True(follower.TryTake(2, 2, batch)); // rows 3 and 4, no more than asked
        Assert.Equal([3, 4], Orderings(batch));

        tail.Committed(Rows(7, 8)); // row 6 committed by another process
        batch.Clear();
        Assert.True(follower.TryTake(4, 10, batch));
        Assert.Equal([5], Orderings(batch));
        Assert.False(follower.TryTake(5, 10, batch));
        batch.Clear();
        Assert.True(follower.TryTake(6, 10, batch)); // after reading row 6 from the journal
        Assert.Equal([7, 8], Orderings(batch));
        Assert.Equal(5, tail.Handed);
    }

    [Fact]
    public void A_follower_that_falls_behind_its_capacity_or_is_replaced_reads_the_journal_instead()
    {
        var tail = new JournalTail(capacity: 4);
        var first = tail.Follow();
        tail.Committed(Rows(1, 2, 3));
        tail.Committed(Rows(4, 5)); // over capacity: 1–3 dropped
        var batch = new List<EventEnvelope>();
        Assert.False(first.TryTake(0, 10, batch));
        Assert.True(first.TryTake(3, 10, batch));
        Assert.Equal([4, 5], Orderings(batch));

        using var second = tail.Follow();
        first.Dispose(); // an earlier follower's end leaves the later one following
        tail.Committed(Rows(6));
        Assert.False(first.TryTake(5, 10, batch));
        Assert.True(second.TryTake(5, 10, batch));

        tail.Committed(Rows(7));
        tail.Forget(); // events deleted: the journal leaves them out
        Assert.False(second.TryTake(6, 10, batch));
        second.Dispose();
        Assert.False(tail.Followed);
    }

    private static List<EventEnvelope> Rows(params long[] orderings) =>
        [.. orderings.Select(o => new EventEnvelope(Offset.Sequence(o), "account-a", o, $"event {o}", o, []))];

    private static IEnumerable<long> Orderings(IEnumerable<EventEnvelope> batch) => batch.Select(e => ((Sequence)e.Offset).Value);
}
