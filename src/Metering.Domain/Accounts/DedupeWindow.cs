using Metering.Domain.Usage;

namespace Metering.Domain.Accounts;

/// <summary>
/// Remembers CloudEvents identities for a sliding window of processing time. Entries are kept in
/// insertion order so expiry is a walk from the front, not a scan.
/// </summary>
public sealed class DedupeWindow(TimeSpan length)
{
    private readonly Dictionary<DedupeKey, DateTimeOffset> _expiries = new();
    private readonly Queue<(DedupeKey Key, DateTimeOffset ExpiresAt)> _order = new();

    public TimeSpan Length { get; } = length;

    public int Count => _expiries.Count;

    public bool Contains(DedupeKey key, DateTimeOffset now) =>
        _expiries.TryGetValue(key, out var expiresAt) && expiresAt > now;

    public void Remember(DedupeKey key, DateTimeOffset seenAt) => Restore(key, seenAt + Length);

    /// <summary>Puts back an entry taken from a snapshot, with its original expiry.</summary>
    public void Restore(DedupeKey key, DateTimeOffset expiresAt)
    {
        _expiries[key] = expiresAt;
        _order.Enqueue((key, expiresAt));
    }

    public void Expire(DateTimeOffset now)
    {
        while (_order.TryPeek(out var head) && head.ExpiresAt <= now)
        {
            _order.Dequeue();
            // A key seen again later has a newer expiry; only drop it when this entry is its latest.
            if (_expiries.TryGetValue(head.Key, out var current) && current <= now)
                _expiries.Remove(head.Key);
        }
    }

    /// <summary>Live entries in insertion order, for snapshots.</summary>
    public IEnumerable<(DedupeKey Key, DateTimeOffset ExpiresAt)> Entries =>
        _order.Where(e => _expiries.TryGetValue(e.Key, out var current) && current == e.ExpiresAt);
}
