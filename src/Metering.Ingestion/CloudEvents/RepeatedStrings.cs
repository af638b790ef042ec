using System.Text;

namespace Metering.Ingestion.CloudEvents;

/// <summary>
/// The strings last made from a few UTF-8 values that repeat from event to event (a producer's
/// <c>source</c>), so an event takes the one made before instead of a new string. A direct-mapped
/// table: each slot holds one immutable entry, replaced whole, so threads share it without a lock,
/// and a miss (a new value, or two values in one slot) makes the string as before and takes the slot.
/// </summary>
internal sealed class RepeatedStrings
{
    private const int Slots = 64;
    /// <summary>Longer values are made as before and not kept: the table stays a few kilobytes whatever comes.</summary>
    private const int MaxKeptBytes = 256;

    private sealed record Entry(byte[] Utf8, string Text);

    private readonly Entry?[] _slots = new Entry?[Slots];

    /// <summary>The text of <paramref name="utf8"/>, which must be valid UTF-8.</summary>
    public string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxKeptBytes) return Encoding.UTF8.GetString(utf8);
        var hash = new HashCode();
        hash.AddBytes(utf8);
        var slot = hash.ToHashCode() & (Slots - 1);
        if (Volatile.Read(ref _slots[slot]) is { } entry && utf8.SequenceEqual(entry.Utf8)) return entry.Text;
        var text = Encoding.UTF8.GetString(utf8);
        Volatile.Write(ref _slots[slot], new Entry(utf8.ToArray(), text));
        return text;
    }
}
