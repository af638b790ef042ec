using CsCheck;
using Metering.Domain.Usage;

namespace Metering.Domain.Tests;

/// <summary>Random Kafka streams of usage for one account: ids may repeat (producer retries).</summary>
internal static class UsageGen
{
    public static readonly DateTimeOffset T0 = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);

    /// <summary>A stream in offset order per partition, with a small id space so duplicates happen.</summary>
    public static readonly Gen<UsageRecord[]> Stream =
        Gen.Select(Gen.Int[0, 2], Gen.Int[0, 30], Gen.Int[0, 2].Select(i => new[] { "lead", "call", "email" }[i]), Gen.Int[1, 5])
            .Array[0, 60]
            .Select(items =>
            {
                var next = new long[3];
                return items.Select(i => new UsageRecord(
                    "crm/test", $"e-{i.Item2}", i.Item3, i.Item4, T0, null, null,
                    new KafkaPosition(i.Item1, next[i.Item1]++))).ToArray();
            });

    /// <summary>Cuts a stream into consecutive batches at the given fractions.</summary>
    public static List<UsageRecord[]> Split(UsageRecord[] stream, int[] cuts)
    {
        var points = cuts.Select(c => stream.Length == 0 ? 0 : c % (stream.Length + 1)).Append(0).Append(stream.Length).Distinct().Order().ToArray();
        var batches = new List<UsageRecord[]>();
        for (var i = 1; i < points.Length; i++)
            batches.Add(stream[points[i - 1]..points[i]]);
        return batches;
    }
}
