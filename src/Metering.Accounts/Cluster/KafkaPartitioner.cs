using System.Buffers.Binary;
using System.Text;

namespace Metering.Accounts.Cluster;

/// <summary>
/// The partition Kafka's default partitioner for keyed records picks: murmur2 of the UTF-8 key, made
/// positive, modulo the partition count. Java clients and librdkafka's <c>murmur2</c> and
/// <c>murmur2_random</c> (what the engine's producers use) agree on it, so the engine can tell where an
/// account's usage arrives without asking Kafka.
/// </summary>
public static class KafkaPartitioner
{
    public static int Partition(string key, int partitions)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        return (int)((Murmur2(Encoding.UTF8.GetBytes(key)) & 0x7fffffff) % (uint)partitions);
    }

    /// <summary>MurmurHash2, 32 bits, with Kafka's seed.</summary>
    internal static uint Murmur2(ReadOnlySpan<byte> data)
    {
        const uint m = 0x5bd1e995;
        const int r = 24;
        var h = 0x9747b28c ^ (uint)data.Length;
        var blocks = data.Length / 4;
        for (var i = 0; i < blocks; i++)
        {
            var k = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(i * 4, 4));
            k *= m;
            k ^= k >> r;
            k *= m;
            h *= m;
            h ^= k;
        }
        var tail = data[(blocks * 4)..];
        switch (tail.Length)
        {
            case 3:
                h ^= (uint)tail[2] << 16;
                goto case 2;
            case 2:
                h ^= (uint)tail[1] << 8;
                goto case 1;
            case 1:
                h ^= tail[0];
                h *= m;
                break;
        }
        h ^= h >> 13;
        h *= m;
        h ^= h >> 15;
        return h;
    }
}
