using CsCheck;
using Metering.Domain.Accounts;
using Metering.Domain.Usage;

namespace Metering.Domain.Tests;

public class AccountUsageTests
{
    private static Account NewAccount() => new("acct-1", AccountSettings.Default);

    private static UsageOutcome Record(Account account, IReadOnlyList<UsageRecord> batch, DateTimeOffset at, IReadOnlyList<KafkaPosition>? committed = null)
    {
        var decision = account.Decide(new RecordUsage(batch, at, committed));
        foreach (var e in decision.Events) account.Apply(e);
        return decision.Outcome;
    }

    /// <summary>What exactly-once means: each distinct (source, id) counted once, at its first quantity.</summary>
    private static Dictionary<string, decimal> Expected(IEnumerable<UsageRecord> stream)
    {
        var seen = new HashSet<DedupeKey>();
        return stream.Where(r => seen.Add(r.DedupeKey))
            .GroupBy(r => r.Meter)
            .ToDictionary(g => g.Key, g => g.Sum(r => r.Quantity));
    }

    [Fact]
    public void Counts_usage_per_meter_and_events_processed()
    {
        var account = NewAccount();
        var outcome = Record(account,
        [
            new("crm", "1", "lead", 1, UsageGen.T0, null, null, new(0, 0)),
            new("crm", "2", "lead", 2, UsageGen.T0, null, null, new(0, 1)),
            new("crm", "3", "call", 1, UsageGen.T0, null, null, new(1, 0)),
        ], UsageGen.T0);

        Assert.Equal(new UsageOutcome(3, 0, 0), outcome);
        Assert.Equal(3m, account.Usage["lead"]);
        Assert.Equal(1m, account.Usage["call"]);
        Assert.Equal(3, account.EventsProcessed);
        Assert.Equal(0m, account.Balance);
        Assert.Equal(0m, account.PendingBalance);
    }

    [Fact]
    public void A_commit_drops_what_it_covers_on_each_partition_and_raises_each_watermark_once()
    {
        var account = NewAccount();
        // Partition 0's records interleave with partition 1's; the group committed 0 up to offset 7
        // (everything below is done), 1 in two entries (the highest counts) and 2, which this account has no record from.
        UsageRecord[] batch =
        [
            new("crm", "a", "lead", 1, UsageGen.T0, null, null, new(0, 5)),
            new("crm", "b", "lead", 1, UsageGen.T0, null, null, new(1, 3)),
            new("crm", "c", "lead", 1, UsageGen.T0, null, null, new(0, 6)),
            new("crm", "d", "lead", 1, UsageGen.T0, null, null, new(0, 7)),
            new("crm", "e", "lead", 1, UsageGen.T0, null, null, new(1, 9)),
        ];
        KafkaPosition[] committed = [new(1, 4), new(0, 7), new(2, 40), new(1, 2)];

        var decision = account.Decide(new RecordUsage(batch, UsageGen.T0, committed));

        Assert.Equal(new UsageOutcome(2, 0, 3), decision.Outcome);
        var usage = Assert.IsType<UsageRecorded>(Assert.Single(decision.Events));
        Assert.Equal(["d", "e"], usage.Accepted.Select(r => r.EventId));
        Assert.Equal([new KafkaPosition(0, 6), new KafkaPosition(1, 3)], usage.Watermarks);

        // Applied, the watermarks are the account's own: the same commit again raises none.
        account.Apply(usage);
        var again = account.Decide(new RecordUsage([new("crm", "f", "lead", 1, UsageGen.T0, null, null, new(0, 8))], UsageGen.T0, committed));
        Assert.Empty(Assert.IsType<UsageRecorded>(Assert.Single(again.Events)).Watermarks);
    }

    [Fact]
    public void Drops_a_producer_retry_with_the_same_source_and_id_at_a_new_offset()
    {
        var account = NewAccount();
        Record(account, [new("crm", "1", "lead", 1, UsageGen.T0, null, null, new(0, 0))], UsageGen.T0);
        var outcome = Record(account, [new("crm", "1", "lead", 1, UsageGen.T0, null, null, new(0, 1))], UsageGen.T0.AddMinutes(1));

        Assert.Equal(new UsageOutcome(0, 1, 0), outcome);
        Assert.Equal(1m, account.Usage["lead"]);
        Assert.Equal(1, account.DuplicatesDropped);
    }

    [Fact]
    public void The_same_id_from_another_source_is_another_event()
    {
        var account = NewAccount();
        var outcome = Record(account,
        [
            new("crm/a", "1", "lead", 1, UsageGen.T0, null, null, new(0, 0)),
            new("crm/b", "1", "lead", 1, UsageGen.T0, null, null, new(0, 1)),
        ], UsageGen.T0);
        Assert.Equal(2, outcome.Accepted);
    }

    [Fact]
    public void Forgets_an_id_once_the_dedupe_window_has_passed()
    {
        var account = new Account("acct-1", AccountSettings.Default with { DedupeWindow = TimeSpan.FromHours(1) });
        Record(account, [new("crm", "1", "lead", 1, UsageGen.T0, null, null, new(0, 0))], UsageGen.T0);
        var outcome = Record(account, [new("crm", "1", "lead", 1, UsageGen.T0, null, null, new(0, 1))], UsageGen.T0.AddHours(2));
        Assert.Equal(1, outcome.Accepted);
        Assert.Equal(2m, account.Usage["lead"]);
    }

    [Fact]
    public void A_redelivered_batch_persists_nothing()
    {
        var account = NewAccount();
        UsageRecord[] batch = [new("crm", "1", "lead", 1, UsageGen.T0, null, null, new(3, 41))];
        Record(account, batch, UsageGen.T0);
        var decision = account.Decide(new RecordUsage(batch, UsageGen.T0));
        Assert.Empty(decision.Events);
        Assert.Equal(new UsageOutcome(0, 0, 1), decision.Outcome);
    }

    [Fact]
    public void A_batch_retried_after_a_later_batch_was_persisted_is_still_counted()
    {
        // The consumer has batches N and N+1 in flight; N's write is lost, N+1's persists, then N is retried.
        var account = NewAccount();
        UsageRecord[] n = [new("crm", "1", "lead", 1, UsageGen.T0, null, null, new(0, 10)), new("crm", "2", "lead", 1, UsageGen.T0, null, null, new(0, 12))];
        UsageRecord[] next = [new("crm", "3", "lead", 1, UsageGen.T0, null, null, new(0, 20))];
        KafkaPosition[] committed = [new(0, 5)];

        Assert.Equal(new UsageOutcome(1, 0, 0), Record(account, next, UsageGen.T0, committed));
        Assert.Equal(new UsageOutcome(2, 0, 0), Record(account, n, UsageGen.T0, committed));
        Assert.Equal(new UsageOutcome(0, 0, 3), Record(account, [.. n, .. next], UsageGen.T0, committed));
        Assert.Equal(3m, account.Usage["lead"]);
    }

    [Fact]
    public void The_committed_offset_covers_what_is_below_it_and_prunes_the_offsets_taken_above()
    {
        var account = NewAccount();
        Record(account, [new("crm", "1", "lead", 1, UsageGen.T0, null, null, new(0, 10)), new("crm", "1", "lead", 1, UsageGen.T0, null, null, new(0, 11))], UsageGen.T0);
        Assert.Equal([new KafkaPosition(0, 10), new KafkaPosition(0, 11)], account.Taken.Above);
        Assert.Equal(1, account.DuplicatesDropped);

        // Offset 8 was never seen by this account, but the group committed 12: everything below is done.
        var outcome = Record(account, [new("crm", "0", "lead", 1, UsageGen.T0, null, null, new(0, 8)), new("crm", "2", "lead", 1, UsageGen.T0, null, null, new(0, 13))],
            UsageGen.T0, [new(0, 12)]);
        Assert.Equal(new UsageOutcome(1, 0, 1), outcome);
        Assert.Equal(11, account.Taken.WatermarkOf(0));
        Assert.Equal([new KafkaPosition(0, 13)], account.Taken.Above);
        // The dropped duplicate's offset is remembered too: redelivered, not a second duplicate.
        Assert.Equal(1, account.DuplicatesDropped);
    }

    [Fact]
    public void Property_batches_persisted_out_of_order_lost_and_retried_count_each_event_once()
    {
        Gen.Select(KeyedStream, Gen.Int[0, 100].Array[0, 8], Gen.Select(Gen.Int[0, 100], Gen.Bool).Array[0, 30]).Sample((stream, cuts, attempts) =>
        {
            var batches = UsageGen.Split(stream, cuts);
            var done = new bool[batches.Count];
            var account = NewAccount();
            var committed = new Dictionary<int, long>();
            // A pipelined consumer: any batch read may be attempted in any order and its write may be
            // lost; the group commits a batch's offsets only once it and every batch before it persisted.
            foreach (var (pick, lost) in attempts)
            {
                if (batches.Count == 0) break;
                var i = pick % batches.Count;
                var floors = committed.Select(kv => new KafkaPosition(kv.Key, kv.Value)).ToArray();
                var outcome = account.Decide(new RecordUsage(batches[i], UsageGen.T0, floors)).Outcome;
                if (done[i]) Assert.Equal(0, outcome.Accepted);
                if (lost) continue;
                Record(account, batches[i], UsageGen.T0, floors);
                done[i] = true;
                foreach (var record in batches.TakeWhile((_, k) => done[k]).SelectMany(b => b))
                    committed[record.Position.Partition] = Math.Max(committed.GetValueOrDefault(record.Position.Partition), record.Position.Offset + 1);
            }
            // After a rebalance the new owner reads from the committed offsets: everything after is delivered again.
            var floorsAfter = committed.Select(kv => new KafkaPosition(kv.Key, kv.Value)).ToArray();
            foreach (var batch in batches) Record(account, batch, UsageGen.T0, floorsAfter);

            Assert.Equal(Expected(stream), account.Usage.ToDictionary());
            Assert.Equal(stream.Select(r => r.DedupeKey).Distinct().Count(), account.EventsProcessed);
            Assert.Equal(stream.Length - account.EventsProcessed, account.DuplicatesDropped);
        });
    }

    /// <summary>Producer retries carry the same payload: meter and quantity follow the id, so which copy is counted does not matter.</summary>
    private static readonly Gen<UsageRecord[]> KeyedStream = UsageGen.Stream.Select(stream => stream
        .Select(r => int.Parse(r.EventId[2..]) is var k ? r with { Meter = new[] { "lead", "call", "email" }[k % 3], Quantity = k % 5 + 1 } : r)
        .ToArray());

    [Fact]
    public void Usage_starts_again_in_a_new_cycle()
    {
        var account = NewAccount();
        Record(account, [new("crm", "1", "lead", 5, UsageGen.T0, null, null, new(0, 0))], UsageGen.T0);
        Record(account, [new("crm", "2", "lead", 2, UsageGen.T0, null, null, new(0, 1))], UsageGen.T0.AddMonths(1));
        Assert.Equal(2m, account.Usage["lead"]);
        Assert.Equal(new DateTimeOffset(2026, 12, 27, 0, 0, 0, TimeSpan.Zero), account.Cycle!.Value.Start);
        Assert.Equal(2, account.EventsProcessed);
    }

    [Fact]
    public void Property_totals_do_not_depend_on_batching()
    {
        Gen.Select(UsageGen.Stream, Gen.Int[0, 100].Array[0, 6]).Sample((stream, cuts) =>
        {
            var account = NewAccount();
            foreach (var batch in UsageGen.Split(stream, cuts)) Record(account, batch, UsageGen.T0);

            var expected = Expected(stream);
            Assert.Equal(expected, account.Usage.ToDictionary());
            Assert.Equal(expected.Values.Count == 0 ? 0 : stream.Select(r => r.DedupeKey).Distinct().Count(), account.EventsProcessed);
        });
    }

    [Fact]
    public void Property_redelivering_any_batch_again_changes_nothing()
    {
        Gen.Select(UsageGen.Stream, Gen.Int[0, 100].Array[0, 6], Gen.Int[0, 100].Array[1, 4]).Sample((stream, cuts, replays) =>
        {
            var batches = UsageGen.Split(stream, cuts);
            var account = NewAccount();
            // Kafka at-least-once: after each batch, an earlier batch may come again (a crash before commit).
            for (var i = 0; i < batches.Count; i++)
            {
                Record(account, batches[i], UsageGen.T0);
                var again = batches[replays[i % replays.Length] % (i + 1)];
                var outcome = Record(account, again, UsageGen.T0);
                Assert.Equal(0, outcome.Accepted);
            }
            Assert.Equal(Expected(stream), account.Usage.ToDictionary());
        });
    }

    [Fact]
    public void Property_a_snapshot_restores_the_same_account()
    {
        Gen.Select(UsageGen.Stream, Gen.Int[0, 100].Array[0, 4]).Sample((stream, cuts) =>
        {
            var batches = UsageGen.Split(stream, cuts);
            var original = NewAccount();
            foreach (var b in batches.Take(batches.Count / 2)) Record(original, b, UsageGen.T0);
            var restored = Account.FromSnapshot(original.ToSnapshot(), AccountSettings.Default);

            foreach (var b in batches.Skip(batches.Count / 2).Concat(batches))
                Assert.Equal(Record(original, b, UsageGen.T0), Record(restored, b, UsageGen.T0));
            Assert.Equal(original.ToSnapshot() with { Usage = null!, Watermarks = null!, Dedupe = null!, TakenAbove = null, DedupeWindow = null },
                restored.ToSnapshot() with { Usage = null!, Watermarks = null!, Dedupe = null!, TakenAbove = null, DedupeWindow = null });
            Assert.Equal(original.Usage.ToDictionary(), restored.Usage.ToDictionary());
            Assert.Equal(original.Taken.Watermarks.ToDictionary(), restored.Taken.Watermarks.ToDictionary());
            Assert.Equal(original.Taken.Above, restored.Taken.Above);
            Assert.Equal(original.Dedupe.Entries, restored.Dedupe.Entries);
        });
    }
}
