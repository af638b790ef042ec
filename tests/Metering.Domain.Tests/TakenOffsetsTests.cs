using CsCheck;
using Metering.Domain.Accounts;
using Metering.Domain.Usage;

namespace Metering.Domain.Tests;

public sealed class TakenOffsetsTests
{
    [Fact]
    public void Taken_offsets_agree_with_a_plain_set_per_partition_at_every_step()
    {
        // An operation on one of two partitions: take an offset (mostly just above the last, as batches
        // arrive; sometimes an older one, as a retried batch does) or raise the watermark.
        var operation = Gen.Select(Gen.Int[0, 3], Gen.Int[0, 1], Gen.Int[-30, 12]);
        operation.Array[0, 300].Sample(operations =>
        {
            var taken = new TakenOffsets();
            var watermarks = new Dictionary<int, long>();
            var above = new Dictionary<int, SortedSet<long>> { [0] = [], [1] = [] };
            var next = new long[] { 0, 0 };
            foreach (var (kind, partition, step) in operations)
            {
                var offset = Math.Max(0, next[partition] + step);
                var mark = watermarks.GetValueOrDefault(partition, -1);
                if (kind == 0)
                {
                    taken.Raise(new KafkaPosition(partition, offset));
                    if (offset > mark)
                    {
                        watermarks[partition] = offset;
                        above[partition].RemoveWhere(o => o <= offset);
                    }
                }
                else
                {
                    taken.Take(new KafkaPosition(partition, offset));
                    if (offset > mark) above[partition].Add(offset);
                    next[partition] = Math.Max(next[partition], offset + 1);
                }

                Assert.Equal(above.OrderBy(kv => kv.Key).SelectMany(kv => kv.Value.Select(o => new KafkaPosition(kv.Key, o))), taken.Above);
                for (var p = 0; p <= 1; p++)
                {
                    Assert.Equal(watermarks.GetValueOrDefault(p, -1), taken.WatermarkOf(p));
                    for (var o = Math.Max(0, next[p] - 60); o <= next[p] + 2; o++)
                        Assert.Equal(o <= watermarks.GetValueOrDefault(p, -1) || above[p].Contains(o), taken.Contains(new KafkaPosition(p, o), -1));
                }
            }
        });
    }
}
