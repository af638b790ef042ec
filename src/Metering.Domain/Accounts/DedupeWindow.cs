using System.Buffers.Binary;
using Metering.Domain.Usage;

namespace Metering.Domain.Accounts;

/// <summary>
/// Remembers CloudEvents identities for a sliding window of processing time. Every account holds
/// one, sized by its traffic, so it is the largest part of an account's memory. Entries sit in
/// insertion order in a ring (expiry is a walk from the oldest, not a scan) and an open-addressing
/// index maps each key to its latest entry: 24 bytes per entry plus two index slots, with no
/// reference for the GC to trace. A dictionary beside a queue took about 60 bytes per entry in three
/// arrays (session 15, docs/benchmarks.md).
/// </summary>
public sealed class DedupeWindow(TimeSpan length)
{
    /// <summary>Bytes per entry in <see cref="Pack"/>: the fingerprint, then the expiry's UTC ticks, little-endian.</summary>
    public const int PackedEntrySize = 24;

    private const int InitialCapacity = 4;

    private struct Entry
    {
        public DedupeKey Key;
        public long ExpiresAt;
    }

    /// <summary>Every remembered entry, oldest at <see cref="_head"/>; a power of two long.</summary>
    private Entry[] _ring = [];
    private int _head;
    /// <summary>Entries in the ring, superseded ones (a key remembered again) included.</summary>
    private int _entries;
    /// <summary>Linear probing over the keys' low bits: 0 is empty, else the ring position of the key's latest entry plus one. Twice the ring's length.</summary>
    private int[] _slots = [];

    public TimeSpan Length { get; } = length;

    /// <summary>Keys remembered (each counted once, whatever times it was seen).</summary>
    public int Count { get; private set; }

    public bool Contains(DedupeKey key, DateTimeOffset now) =>
        Find(key) is var slot and >= 0 && _ring[_slots[slot] - 1].ExpiresAt > now.UtcTicks;

    public void Remember(DedupeKey key, DateTimeOffset seenAt) => Restore(key, seenAt + Length);

    /// <summary>Puts back an entry taken from a snapshot, with its original expiry.</summary>
    public void Restore(DedupeKey key, DateTimeOffset expiresAt) => Restore(key, expiresAt.UtcTicks);

    private void Restore(DedupeKey key, long expiresAt)
    {
        if (_entries == _ring.Length) Grow();
        var position = (_head + _entries) & (_ring.Length - 1);
        _ring[position] = new Entry { Key = key, ExpiresAt = expiresAt };
        _entries++;
        var slot = Find(key);
        if (slot < 0)
        {
            slot = ~slot;
            Count++;
        }
        _slots[slot] = position + 1;
    }

    public void Expire(DateTimeOffset now)
    {
        var ticks = now.UtcTicks;
        while (_entries > 0 && _ring[_head].ExpiresAt <= ticks)
        {
            // A key seen again later has a newer entry; drop the key only when its latest expiry has passed too.
            var slot = Find(_ring[_head].Key);
            if (slot >= 0 && _ring[_slots[slot] - 1].ExpiresAt <= ticks) RemoveSlot(slot);
            _head = (_head + 1) & (_ring.Length - 1);
            _entries--;
        }
    }

    /// <summary>Live entries in insertion order.</summary>
    public IEnumerable<(DedupeKey Key, DateTimeOffset ExpiresAt)> Entries =>
        Live().Select(e => (e.Key, new DateTimeOffset(e.ExpiresAt, TimeSpan.Zero)));

    /// <summary>Live entries in insertion order, packed for a snapshot (<see cref="PackedEntrySize"/> bytes each).</summary>
    public byte[] Pack()
    {
        var bytes = new byte[Count * PackedEntrySize];
        var at = 0;
        foreach (var entry in Live())
        {
            BinaryPrimitives.WriteUInt128LittleEndian(bytes.AsSpan(at), entry.Key.Fingerprint);
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(at + 16), entry.ExpiresAt);
            at += PackedEntrySize;
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

    /// <summary>The entries the index points at (each key's latest), oldest first.</summary>
    private IEnumerable<Entry> Live()
    {
        for (var i = 0; i < _entries; i++)
        {
            var position = (_head + i) & (_ring.Length - 1);
            if (Find(_ring[position].Key) is var slot and >= 0 && _slots[slot] == position + 1) yield return _ring[position];
        }
    }

    /// <summary>The key's slot, or the complement of the empty slot where it would go.</summary>
    private int Find(DedupeKey key)
    {
        if (_slots.Length == 0) return ~0;
        var mask = _slots.Length - 1;
        for (var slot = Home(key, mask); ; slot = (slot + 1) & mask)
        {
            var value = _slots[slot];
            if (value == 0) return ~slot;
            if (_ring[value - 1].Key == key) return slot;
        }
    }

    private static int Home(DedupeKey key, int mask) => (int)(key.Low & (uint)mask);

    /// <summary>Empties a slot and moves later keys of its probe run back, so no search stops short (backward-shift deletion).</summary>
    private void RemoveSlot(int hole)
    {
        var mask = _slots.Length - 1;
        for (var next = (hole + 1) & mask; _slots[next] != 0; next = (next + 1) & mask)
        {
            var home = Home(_ring[_slots[next] - 1].Key, mask);
            // The key at next may fill the hole unless its home lies cyclically in (hole, next].
            var stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
            if (stays) continue;
            _slots[hole] = _slots[next];
            hole = next;
        }
        _slots[hole] = 0;
        Count--;
    }

    /// <summary>Doubles the ring, its entries moved to the front in order, and indexes the keys again.</summary>
    private void Grow()
    {
        var (oldRing, oldSlots, oldHead) = (_ring, _slots, _head);
        _ring = new Entry[Math.Max(InitialCapacity, oldRing.Length * 2)];
        for (var i = 0; i < _entries; i++) _ring[i] = oldRing[(oldHead + i) & (oldRing.Length - 1)];
        _slots = new int[_ring.Length * 2];
        _head = 0;
        // From the old index, not the ring: superseded entries, and a key dropped before an older entry of it expired, stay unindexed.
        foreach (var value in oldSlots)
        {
            if (value == 0) continue;
            var position = (value - 1 - oldHead) & (oldRing.Length - 1);
            _slots[~Find(_ring[position].Key)] = position + 1;
        }
    }
}
