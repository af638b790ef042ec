using Metering.Domain.Usage;

namespace Metering.Domain.Accounts;

/// <summary>
/// The Kafka offsets an account has taken (persisted), so a redelivered record is dropped by its
/// position. Per partition: a watermark (every offset at or below it is done, for this account as
/// for every other) and the offsets above it that this account persisted. The consumer processes
/// several batches at once, so an account can persist batch N+1 while batch N is still to be
/// retried: a single "highest offset seen" would then drop N's retry. The watermark rises only to
/// the consumer group's committed offset, which Kafka reaches once every batch below it is durable.
/// </summary>
public sealed class TakenOffsets
{
    private readonly Dictionary<int, long> _watermarks = new();
    // Holds only offsets above the partition's watermark, so it stays as small as the account's share
    // of the batches not yet committed. Kept when a commit empties it: each batch empties and refills
    // it, and a new one grew anew every time (a fifth of the account actor's samples in a
    // 10,000-account profile).
    private readonly Dictionary<int, SortedOffsets> _above = new();

    public IReadOnlyDictionary<int, long> Watermarks => _watermarks;

    /// <summary>Offsets above the watermarks, per partition in offset order: what a snapshot keeps besides the watermarks.</summary>
    public IEnumerable<KafkaPosition> Above =>
        _above.OrderBy(kv => kv.Key).SelectMany(kv => kv.Value.All.Select(o => new KafkaPosition(kv.Key, o)));

    public long WatermarkOf(int partition) => _watermarks.GetValueOrDefault(partition, -1);

    /// <summary>Whether the record at this position was taken, given a watermark at least this high.</summary>
    public bool Contains(KafkaPosition position, long watermark) =>
        position.Offset <= Math.Max(watermark, WatermarkOf(position.Partition))
        || (_above.TryGetValue(position.Partition, out var offsets) && offsets.Contains(position.Offset));

    /// <summary>Everything at or below <paramref name="mark"/> is done: forget the offsets it covers.</summary>
    public void Raise(KafkaPosition mark)
    {
        if (mark.Offset <= WatermarkOf(mark.Partition)) return;
        _watermarks[mark.Partition] = mark.Offset;
        if (_above.TryGetValue(mark.Partition, out var offsets)) offsets.RemoveThrough(mark.Offset);
    }

    public void Take(KafkaPosition position)
    {
        if (position.Offset <= WatermarkOf(position.Partition)) return;
        if (!_above.TryGetValue(position.Partition, out var offsets))
            _above[position.Partition] = offsets = new SortedOffsets();
        offsets.Add(position.Offset);
    }

    /// <summary>
    /// A partition's offsets, sorted, in the part of an array from <c>_head</c> on. A commit drops the
    /// lowest ones by moving <c>_head</c>, and offsets mostly arrive in order, so a new one is appended:
    /// a sorted list shifted its whole tail on both, which the profiles showed (session 16).
    /// </summary>
    private sealed class SortedOffsets
    {
        private long[] _items = new long[4];
        private int _head;
        private int _count;

        public IEnumerable<long> All => new ArraySegment<long>(_items, _head, _count);

        public bool Contains(long offset) => Array.BinarySearch(_items, _head, _count, offset) >= 0;

        public void RemoveThrough(long mark)
        {
            var found = Array.BinarySearch(_items, _head, _count, mark);
            var end = found >= 0 ? found + 1 : ~found;
            _count -= end - _head;
            _head = _count == 0 ? 0 : end;
        }

        public void Add(long offset)
        {
            MakeRoom(); // first, so the one search below finds the place where the offset goes
            if (_count > 0 && offset <= _items[_head + _count - 1])
            {
                var at = Array.BinarySearch(_items, _head, _count, offset);
                if (at >= 0) return;
                at = ~at;
                Array.Copy(_items, at, _items, at + 1, _head + _count - at);
                _items[at] = offset;
                _count++;
                return;
            }
            _items[_head + _count++] = offset;
        }

        /// <summary>A free slot after the last offset: moves them to the front when at least half the array lies before them, else doubles it.</summary>
        private void MakeRoom()
        {
            if (_head + _count < _items.Length) return;
            var target = _count < _items.Length / 2 ? _items : new long[_items.Length * 2];
            Array.Copy(_items, _head, target, 0, _count);
            _items = target;
            _head = 0;
        }
    }
}
