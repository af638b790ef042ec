using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;

namespace Metering.Domain.Usage;

/// <summary>Where a usage event sat in Kafka; the account's redelivery watermark is kept per partition.</summary>
public readonly record struct KafkaPosition(int Partition, long Offset);

/// <summary>One valid usage event, already mapped to its meter.</summary>
/// <param name="Source">CloudEvents <c>source</c>; with <paramref name="EventId"/> the producer's dedupe key.</param>
/// <param name="EventId">CloudEvents <c>id</c>.</param>
/// <param name="Meter">Meter key.</param>
/// <param name="Quantity">Quantity, greater than zero.</param>
/// <param name="OccurredAt">CloudEvents <c>time</c> (or ingest time when absent).</param>
/// <param name="Team">Optional team dimension.</param>
/// <param name="User">Optional user dimension.</param>
/// <param name="Position">Kafka partition and offset it was read from.</param>
public sealed record UsageRecord(
    string Source,
    string EventId,
    string Meter,
    decimal Quantity,
    DateTimeOffset OccurredAt,
    string? Team,
    string? User,
    KafkaPosition Position)
{
    public DedupeKey DedupeKey => DedupeKey.Of(Source, EventId);
}

/// <summary>
/// CloudEvents identity (<c>(source, id)</c> is unique per producer by the spec), kept as a 128-bit
/// fingerprint: XXH128 of both, each prefixed with its length. A dedupe window then holds 16 bytes
/// per event and no strings, which the GC would otherwise trace for the window's whole length. Two
/// identities share a fingerprint with a probability of about n² / 2¹²⁹ for n identities in one
/// account's window (10⁹ a day: 10⁻²¹). XXH128 is not built to resist a producer making such a pair
/// on purpose, but sources are not authenticated either: a producer that wanted another's event
/// dropped could simply send its (source, id). SHA-256 cost 6 % of the engine's CPU here.
/// </summary>
public readonly record struct DedupeKey
{
    // Two halves rather than one UInt128: its 16-byte alignment padded every table entry holding a
    // key (a dedupe window's entry took 32 bytes for 24 of data).
    private readonly ulong _low;
    private readonly ulong _high;

    public DedupeKey(UInt128 fingerprint)
    {
        _low = (ulong)fingerprint;
        _high = (ulong)(fingerprint >> 64);
    }

    public UInt128 Fingerprint => new(_high, _low);

    /// <summary>A well-mixed hash (the fingerprint's low half), for tables that index keys by their low bits.</summary>
    internal ulong Low => _low;

    public static DedupeKey Of(string source, string id)
    {
        var length = 8 + Encoding.UTF8.GetByteCount(source) + Encoding.UTF8.GetByteCount(id);
        var rented = length <= 512 ? null : ArrayPool<byte>.Shared.Rent(length);
        var input = rented is null ? stackalloc byte[length] : rented.AsSpan(0, length);
        var written = Encoding.UTF8.GetBytes(source, input[4..]);
        BinaryPrimitives.WriteInt32LittleEndian(input, written);
        var at = 4 + written;
        written = Encoding.UTF8.GetBytes(id, input[(at + 4)..]);
        BinaryPrimitives.WriteInt32LittleEndian(input[at..], written);
        var fingerprint = XxHash128.HashToUInt128(input);
        if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        return new DedupeKey(fingerprint);
    }
}
