using System.Buffers.Binary;
using Metering.Domain.Usage;

namespace Metering.Domain.Accounts;

/// <summary>
/// Remembers CloudEvents identities for a sliding window of processing time. Entries are kept in
/// insertion order so expiry is a walk from the front, not a scan. Keys are fingerprints and expiries
/// UTC ticks, so neither collection holds a reference for the GC to trace.
/// </summary>
public sealed class DedupeWindow(TimeSpan length)
{
    /// <summary>Bytes per entry in <see cref="Pack"/>: the fingerprint, then the expiry's UTC ticks, little-endian.</summary>
    public const int PackedEntrySize = 24;

    private readonly Dictionary<DedupeKey, long> _expiries = new();
    private readonly Queue<(DedupeKey Key, long ExpiresAt)> _order = new();

    public TimeSpan Length { get; } = length;

    public int Count => _expiries.Count;

    public bool Contains(DedupeKey key, DateTimeOffset now) =>
        _expiries.TryGetValue(key, out var expiresAt) && expiresAt > now.UtcTicks;

    public void Remember(DedupeKey key, DateTimeOffset seenAt) => Restore(key, seenAt + Length);

    /// <summary>Puts back an entry taken from a snapshot, with its original expiry.</summary>
    public void Restore(DedupeKey key, DateTimeOffset expiresAt) => Restore(key, expiresAt.UtcTicks);

    private void Restore(DedupeKey key, long expiresAt)
    {
        _expiries[key] = expiresAt;
        _order.Enqueue((key, expiresAt));
    }

    public void Expire(DateTimeOffset now)
    {
        var ticks = now.UtcTicks;
        while (_order.TryPeek(out var head) && head.ExpiresAt <= ticks)
        {
            _order.Dequeue();
            // A key seen again later has a newer expiry; only drop it when this entry is its latest.
            if (_expiries.TryGetValue(head.Key, out var current) && current <= ticks)
                _expiries.Remove(head.Key);
        }
    }

    /// <summary>Live entries in insertion order.</summary>
    public IEnumerable<(DedupeKey Key, DateTimeOffset ExpiresAt)> Entries =>
        Live.Select(e => (e.Key, new DateTimeOffset(e.ExpiresAt, TimeSpan.Zero)));

    /// <summary>Live entries in insertion order, packed for a snapshot (<see cref="PackedEntrySize"/> bytes each).</summary>
    public byte[] Pack()
    {
        var live = Live.ToList();
        var bytes = new byte[live.Count * PackedEntrySize];
        for (var i = 0; i < live.Count; i++)
        {
            var entry = bytes.AsSpan(i * PackedEntrySize, PackedEntrySize);
            BinaryPrimitives.WriteUInt128LittleEndian(entry, live[i].Key.Fingerprint);
            BinaryPrimitives.WriteInt64LittleEndian(entry[16..], live[i].ExpiresAt);
        }
        return bytes;
    }

    /// <summary>Puts back the entries of <see cref="Pack"/>.</summary>
    public void Unpack(ReadOnlySpan<byte> packed)
    {
        if (packed.Length % PackedEntrySize != 0)
            throw new ArgumentException($"A packed dedupe window is a multiple of {PackedEntrySize} bytes, not {packed.Length}.", nameof(packed));
        for (var at = 0; at < packed.Length; at += PackedEntrySize)
            Restore(new DedupeKey(BinaryPrimitives.ReadUInt128LittleEndian(packed[at..])), BinaryPrimitives.ReadInt64LittleEndian(packed[(at + 16)..]));
    }

    private IEnumerable<(DedupeKey Key, long ExpiresAt)> Live =>
        _order.Where(e => _expiries.TryGetValue(e.Key, out var current) && current == e.ExpiresAt);
}
