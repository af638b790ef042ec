using System.Buffers.Binary;
using System.Runtime.Serialization;
using System.Text;
using Metering.Domain.Accounts;
using Metering.Domain.Usage;

namespace Metering.Accounts.Serialization;

/// <summary>
/// <c>usage-recorded.v3</c>: the journal row of a usage batch in a compact binary form. It is the
/// row written for every account in every consumed batch, so its size and cost matter; JSON repeats
/// every property name and source for each record. Here integers are 7-bit varints, timestamps are
/// ticks (a record's time relative to the batch's), decimals keep their exact scale, and each distinct
/// string (source, meter, team, user, subscription) is written once per row and referred to after.
/// </summary>
/// <remarks>
/// Layout: at, duplicates, watermarks, records, draws (or none), charges (or none), the dropped
/// duplicates' positions (or none); a draw or charge ends with the plan, team and user it belongs to.
/// v2 is the same without the dropped positions and stays readable, as v1 JSON rows still are;
/// changing the layout again means a v4 manifest.
/// </remarks>
public static class UsageRecordedFormat
{
    public const string Manifest = "usage-recorded.v3";

    /// <summary>Read only: rows written before the dropped duplicates' positions were kept.</summary>
    public const string ManifestV2 = "usage-recorded.v2";

    public static byte[] Write(UsageRecorded e)
    {
        var writer = new RowWriter(64 + e.Accepted.Count * 48);
        var strings = StringTable.ForWriting();
        writer.Time(e.At);
        writer.VarInt(e.Duplicates);
        writer.VarInt(e.Watermarks.Count);
        // Indexed: a foreach over an IReadOnlyList boxes its enumerator, for every row written.
        for (var i = 0; i < e.Watermarks.Count; i++) writer.Position(e.Watermarks[i]);
        writer.VarInt(e.Accepted.Count);
        for (var i = 0; i < e.Accepted.Count; i++)
        {
            var r = e.Accepted[i];
            strings.Write(ref writer, r.Source);
            writer.String(r.EventId);
            strings.Write(ref writer, r.Meter);
            writer.Decimal(r.Quantity);
            writer.VarInt64(ZigZag(r.OccurredAt.UtcTicks - e.At.UtcTicks));
            writer.VarInt((int)ZigZag((long)r.OccurredAt.Offset.TotalMinutes));
            strings.Write(ref writer, r.Team);
            strings.Write(ref writer, r.User);
            writer.Position(r.Position);
        }
        writer.Count(e.Draws);
        foreach (var d in e.Draws ?? [])
        {
            strings.Write(ref writer, d.SubscriptionId);
            strings.Write(ref writer, d.Meter);
            writer.Decimal(d.Quantity);
            WriteCovered(ref writer, strings, d.PlanId, d.Team, d.User);
        }
        writer.Count(e.Charges);
        foreach (var c in e.Charges ?? [])
        {
            strings.Write(ref writer, c.SubscriptionId);
            strings.Write(ref writer, c.Meter);
            writer.Decimal(c.Quantity);
            writer.Decimal(c.Amount);
            WriteCovered(ref writer, strings, c.PlanId, c.Team, c.User);
        }
        writer.Count(e.Dropped);
        for (var i = 0; i < (e.Dropped?.Count ?? 0); i++) writer.Position(e.Dropped![i]);
        return writer.ToArray();
    }

    public static UsageRecorded Read(byte[] bytes, string manifest = Manifest)
    {
        try
        {
            var reader = new RowReader(bytes);
            var strings = StringTable.ForReading();
            var at = reader.Time();
            var duplicates = reader.VarInt();
            var watermarks = new KafkaPosition[reader.Length()];
            for (var i = 0; i < watermarks.Length; i++)
                watermarks[i] = reader.Position();
            var accepted = new UsageRecord[reader.Length()];
            for (var i = 0; i < accepted.Length; i++)
            {
                var source = strings.Read(ref reader)!;
                var id = reader.String();
                var meter = strings.Read(ref reader)!;
                var quantity = reader.Decimal();
                var ticks = at.UtcTicks + UnZigZag(reader.VarInt64());
                var offset = TimeSpan.FromMinutes(UnZigZag(reader.VarInt()));
                var occurredAt = new DateTimeOffset(ticks, TimeSpan.Zero).ToOffset(offset);
                var team = strings.Read(ref reader);
                var user = strings.Read(ref reader);
                var position = reader.Position();
                accepted[i] = new UsageRecord(source, id, meter, quantity, occurredAt, team, user, position);
            }
            QuotaDraw[]? draws = null;
            if (reader.Count() is { } drawCount)
            {
                draws = new QuotaDraw[drawCount];
                for (var i = 0; i < draws.Length; i++)
                    draws[i] = new QuotaDraw(strings.Read(ref reader)!, strings.Read(ref reader)!, reader.Decimal(),
                        strings.Read(ref reader), strings.Read(ref reader), strings.Read(ref reader));
            }
            OverageCharge[]? charges = null;
            if (reader.Count() is { } chargeCount)
            {
                charges = new OverageCharge[chargeCount];
                for (var i = 0; i < charges.Length; i++)
                    charges[i] = new OverageCharge(strings.Read(ref reader)!, strings.Read(ref reader)!, reader.Decimal(), reader.Decimal(),
                        strings.Read(ref reader), strings.Read(ref reader), strings.Read(ref reader));
            }
            KafkaPosition[]? dropped = null;
            if (manifest != ManifestV2 && reader.Count() is { } droppedCount)
            {
                dropped = new KafkaPosition[droppedCount];
                for (var i = 0; i < dropped.Length; i++) dropped[i] = reader.Position();
            }
            return new UsageRecorded(accepted, watermarks, duplicates, at, draws, charges, dropped);
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or ArgumentException or OverflowException)
        {
            throw new SerializationException($"Corrupt {manifest} row", e);
        }
    }

    /// <summary>The plan, team and user a draw or charge belongs to: what the read side groups amounts by.</summary>
    private static void WriteCovered(ref RowWriter writer, StringTable strings, string? planId, string? team, string? user)
    {
        strings.Write(ref writer, planId);
        strings.Write(ref writer, team);
        strings.Write(ref writer, user);
    }

    private static long ZigZag(long value) => (value << 1) ^ (value >> 63);

    private static long UnZigZag(long value) => (long)((ulong)value >> 1) ^ -(value & 1);

    /// <summary>
    /// Writes the row into a buffer kept per thread and copies it out once: a row is written for every
    /// account in every batch, and a stream, a writer and a growing buffer per row were 4 % of the
    /// engine's allocated bytes. The encodings are <see cref="BinaryWriter"/>'s (7-bit varints,
    /// little-endian fixed widths, UTF-8 strings with their byte length first), which wrote v2 and v3.
    /// </summary>
    private ref struct RowWriter
    {
        private const int MaxKept = 64 * 1024; // a batch's rare huge row is not held by its thread for good
        [ThreadStatic] private static byte[]? _scratch;
        private byte[] _buffer;
        private int _length;

        public RowWriter(int expected)
        {
            _buffer = _scratch is { } kept && kept.Length >= expected ? kept : new byte[Math.Max(expected, 256)];
            _length = 0;
        }

        public void Byte(byte value)
        {
            Ensure(1);
            _buffer[_length++] = value;
        }

        public void VarInt(int value) => VarInt64((uint)value);

        public void VarInt64(long value)
        {
            Ensure(10);
            var rest = (ulong)value;
            while (rest > 0x7F)
            {
                _buffer[_length++] = (byte)(rest | 0x80);
                rest >>= 7;
            }
            _buffer[_length++] = (byte)rest;
        }

        public void Int32(int value)
        {
            Ensure(4);
            BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(_length), value);
            _length += 4;
        }

        public void Int64(long value)
        {
            Ensure(8);
            BinaryPrimitives.WriteInt64LittleEndian(_buffer.AsSpan(_length), value);
            _length += 8;
        }

        public void String(string value)
        {
            var size = Encoding.UTF8.GetByteCount(value);
            VarInt(size);
            Ensure(size);
            _length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(_length));
        }

        public void Time(DateTimeOffset time)
        {
            Int64(time.UtcTicks);
            VarInt((int)ZigZag((long)time.Offset.TotalMinutes));
        }

        public void Position(KafkaPosition position)
        {
            VarInt(position.Partition);
            VarInt64(position.Offset);
        }

        /// <summary>
        /// Exact, scale included (2.50 stays 2.50): a flags byte (scale, sign, whether the top 32 bits
        /// are used), then the 96-bit integer as a varint of its low 64 bits and, if used, the top 32.
        /// </summary>
        public void Decimal(decimal value)
        {
            Span<int> bits = stackalloc int[4];
            decimal.GetBits(value, bits);
            var scale = (byte)((bits[3] >> 16) & 0xFF);
            var negative = bits[3] < 0;
            var high = bits[2] != 0;
            Byte((byte)(scale | (negative ? 0x80 : 0) | (high ? 0x40 : 0)));
            VarInt64((long)(((ulong)(uint)bits[1] << 32) | (uint)bits[0]));
            if (high) Int32(bits[2]);
        }

        /// <summary>A list's length, with null as 0 so an absent list and an empty one stay apart.</summary>
        public void Count<T>(IReadOnlyList<T>? items) => VarInt(items is null ? 0 : items.Count + 1);

        public readonly byte[] ToArray()
        {
            if (_buffer.Length <= MaxKept) _scratch = _buffer;
            return _buffer.AsSpan(0, _length).ToArray();
        }

        private void Ensure(int bytes)
        {
            if (_length + bytes <= _buffer.Length) return;
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + bytes));
        }
    }

    /// <summary>Reads what <see cref="RowWriter"/> (or <see cref="BinaryWriter"/> before it) wrote, straight from the row's bytes.</summary>
    private ref struct RowReader(ReadOnlySpan<byte> bytes)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;
        private int _at;

        public byte Byte()
        {
            if (_at >= _bytes.Length) throw new EndOfStreamException();
            return _bytes[_at++];
        }

        /// <summary>As <see cref="BinaryReader.Read7BitEncodedInt"/>: at most five bytes, the fifth carrying four bits.</summary>
        public int VarInt() => (int)(uint)SevenBitEncoded(28, 0b1111);

        /// <summary>As <see cref="BinaryReader.Read7BitEncodedInt64"/>: at most ten bytes, the tenth carrying one bit.</summary>
        public long VarInt64() => (long)SevenBitEncoded(63, 0b1);

        /// <summary>Seven bits a byte, low first, until a byte without its top bit; the byte at <paramref name="lastShift"/> holds what is left.</summary>
        private ulong SevenBitEncoded(int lastShift, byte lastMax)
        {
            ulong value = 0;
            for (var shift = 0; shift < lastShift; shift += 7)
            {
                var b = Byte();
                value |= (ulong)(b & 0x7F) << shift;
                if (b <= 0x7F) return value;
            }
            var last = Byte();
            if (last > lastMax) throw new FormatException("Too many bytes in a 7-bit encoded integer.");
            return value | (ulong)last << lastShift;
        }

        /// <summary>A length that must fit in what is left of the row, so a corrupt one cannot ask for a huge array.</summary>
        public int Length() => Fitting(VarInt());

        /// <summary>A list's length as <see cref="RowWriter.Count"/> wrote it: null for an absent list.</summary>
        public int? Count() => VarInt() is var count and not 0 ? Fitting(count - 1) : null;

        private readonly int Fitting(int length) =>
            length < 0 || length > _bytes.Length - _at ? throw new FormatException($"Length {length} past the row's end") : length;

        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));

        public string String() => Encoding.UTF8.GetString(Take(Length()));

        public DateTimeOffset Time()
        {
            var ticks = Int64();
            var offset = TimeSpan.FromMinutes(UnZigZag(VarInt()));
            return new DateTimeOffset(ticks, TimeSpan.Zero).ToOffset(offset);
        }

        public KafkaPosition Position() => new(VarInt(), VarInt64());

        public decimal Decimal()
        {
            var flags = Byte();
            var low = (ulong)VarInt64();
            var high = (flags & 0x40) != 0 ? Int32() : 0;
            return new decimal((int)(uint)low, (int)(uint)(low >> 32), high, (flags & 0x80) != 0, (byte)(flags & 0x3F));
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count > _bytes.Length - _at) throw new EndOfStreamException();
            var taken = _bytes.Slice(_at, count);
            _at += count;
            return taken;
        }
    }

    /// <summary>
    /// Strings that repeat within a row: 0 is null, <c>n</c> refers to the n-th string written so far,
    /// and one past the last introduces a new string written right after. One table per thread and
    /// direction, emptied for each row.
    /// </summary>
    private sealed class StringTable
    {
        [ThreadStatic] private static StringTable? _writing;
        [ThreadStatic] private static StringTable? _reading;
        private readonly Dictionary<string, int> _indexes = new(StringComparer.Ordinal);
        private readonly List<string> _strings = [];

        public static StringTable ForWriting() => Emptied(_writing ??= new StringTable());

        public static StringTable ForReading() => Emptied(_reading ??= new StringTable());

        private static StringTable Emptied(StringTable table)
        {
            table._indexes.Clear();
            table._strings.Clear();
            return table;
        }

        public void Write(ref RowWriter writer, string? value)
        {
            if (value is null)
            {
                writer.VarInt(0);
                return;
            }
            if (_indexes.TryGetValue(value, out var index))
            {
                writer.VarInt(index + 1);
                return;
            }
            _indexes[value] = _indexes.Count;
            writer.VarInt(_indexes.Count);
            writer.String(value);
        }

        public string? Read(ref RowReader reader)
        {
            var reference = reader.VarInt();
            if (reference == 0) return null;
            if (reference <= _strings.Count) return _strings[reference - 1];
            if (reference != _strings.Count + 1) throw new FormatException($"String reference {reference} skips ahead of {_strings.Count}");
            var value = reader.String();
            _strings.Add(value);
            return value;
        }
    }
}
