using Metering.Domain.Usage;

namespace Metering.Simulation.Tests.Simulation;

/// <summary>
/// The usage topic as the account sees it: partitions of records in offset order, and one
/// consumer with a fetch position and a committed offset per partition. A consumer restart
/// rewinds to the committed offsets, so everything fetched and not committed is delivered again.
/// </summary>
public sealed class SimKafka(int partitions)
{
    private readonly List<UsageRecord>[] _log = Enumerable.Range(0, partitions).Select(_ => new List<UsageRecord>()).ToArray();
    private readonly long[] _position = new long[partitions];
    private readonly long[] _committed = new long[partitions];

    public int Partitions => _log.Length;

    public IReadOnlyList<UsageRecord> Log(int partition) => _log[partition];

    public long Committed(int partition) => _committed[partition];

    /// <summary>What the consumer tells the account with each batch: everything below is durable.</summary>
    public KafkaPosition[] CommittedPositions() => Enumerable.Range(0, Partitions).Select(p => new KafkaPosition(p, _committed[p])).ToArray();

    public bool CaughtUp => Enumerable.Range(0, Partitions).All(p => _position[p] == _log[p].Count);

    /// <summary>Appends at the partition's next offset (the record's own position is replaced).</summary>
    public UsageRecord Produce(int partition, UsageRecord record)
    {
        var placed = record with { Position = new KafkaPosition(partition, _log[partition].Count) };
        _log[partition].Add(placed);
        return placed;
    }

    /// <summary>
    /// Fetches up to <paramref name="max"/> records: in offset order within a partition, but
    /// partitions interleave at random, as a consumer assigned several partitions sees them.
    /// </summary>
    public List<UsageRecord> Poll(SimRandom random, int max)
    {
        var batch = new List<UsageRecord>(max);
        var ready = new List<int>(Partitions);
        while (batch.Count < max)
        {
            ready.Clear();
            for (var p = 0; p < Partitions; p++)
                if (_position[p] < _log[p].Count) ready.Add(p);
            if (ready.Count == 0) break;
            var partition = random.Pick(ready);
            batch.Add(_log[partition][(int)_position[partition]++]);
        }
        return batch;
    }

    /// <summary>Commits the offsets after the given records (Kafka commits the next offset to read).</summary>
    public void Commit(IEnumerable<UsageRecord> records)
    {
        foreach (var record in records)
        {
            var (partition, offset) = (record.Position.Partition, record.Position.Offset);
            _committed[partition] = Math.Max(_committed[partition], offset + 1);
        }
    }

    /// <summary>The consumer restarted (crash or rebalance): it resumes from the committed offsets.</summary>
    public void Rewind() => Array.Copy(_committed, _position, Partitions);
}
