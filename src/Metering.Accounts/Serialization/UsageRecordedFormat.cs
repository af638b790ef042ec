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
        using var stream = new MemoryStream(64 + e.Accepted.Count * 48);
        using var writer = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        var strings = new StringTable();
        WriteTime(writer, e.At);
        writer.Write7BitEncodedInt(e.Duplicates);
        writer.Write7BitEncodedInt(e.Watermarks.Count);
        foreach (var mark in e.Watermarks) WritePosition(writer, mark);
        writer.Write7BitEncodedInt(e.Accepted.Count);
        foreach (var r in e.Accepted)
        {
            strings.Write(writer, r.Source);
            writer.Write(r.EventId);
            strings.Write(writer, r.Meter);
            WriteDecimal(writer, r.Quantity);
            writer.Write7BitEncodedInt64(ZigZag(r.OccurredAt.UtcTicks - e.At.UtcTicks));
            writer.Write7BitEncodedInt((int)ZigZag((long)r.OccurredAt.Offset.TotalMinutes));
            strings.Write(writer, r.Team);
            strings.Write(writer, r.User);
            WritePosition(writer, r.Position);
        }
        WriteList(writer, e.Draws, d =>
        {
            strings.Write(writer, d.SubscriptionId);
            strings.Write(writer, d.Meter);
            WriteDecimal(writer, d.Quantity);
            WriteCovered(writer, strings, d.PlanId, d.Team, d.User);
        });
        WriteList(writer, e.Charges, c =>
        {
            strings.Write(writer, c.SubscriptionId);
            strings.Write(writer, c.Meter);
            WriteDecimal(writer, c.Quantity);
            WriteDecimal(writer, c.Amount);
            WriteCovered(writer, strings, c.PlanId, c.Team, c.User);
        });
        WriteList(writer, e.Dropped, p => WritePosition(writer, p));
        writer.Flush();
        return stream.ToArray();
    }

    public static UsageRecorded Read(byte[] bytes, string manifest = Manifest)
    {
        try
        {
            using var reader = new BinaryReader(new MemoryStream(bytes, writable: false), Encoding.UTF8);
            var strings = new List<string>();
            var at = ReadTime(reader);
            var duplicates = reader.Read7BitEncodedInt();
            var watermarks = new KafkaPosition[reader.Read7BitEncodedInt()];
            for (var i = 0; i < watermarks.Length; i++)
                watermarks[i] = ReadPosition(reader);
            var accepted = new UsageRecord[reader.Read7BitEncodedInt()];
            for (var i = 0; i < accepted.Length; i++)
            {
                var source = StringTable.Read(reader, strings)!;
                var id = reader.ReadString();
                var meter = StringTable.Read(reader, strings)!;
                var quantity = ReadDecimal(reader);
                var ticks = at.UtcTicks + UnZigZag(reader.Read7BitEncodedInt64());
                var offset = TimeSpan.FromMinutes(UnZigZag(reader.Read7BitEncodedInt()));
                var occurredAt = new DateTimeOffset(ticks, TimeSpan.Zero).ToOffset(offset);
                var team = StringTable.Read(reader, strings);
                var user = StringTable.Read(reader, strings);
                var position = ReadPosition(reader);
                accepted[i] = new UsageRecord(source, id, meter, quantity, occurredAt, team, user, position);
            }
            var draws = ReadList(reader, () => new QuotaDraw(StringTable.Read(reader, strings)!, StringTable.Read(reader, strings)!, ReadDecimal(reader),
                StringTable.Read(reader, strings), StringTable.Read(reader, strings), StringTable.Read(reader, strings)));
            var charges = ReadList(reader, () => new OverageCharge(StringTable.Read(reader, strings)!, StringTable.Read(reader, strings)!, ReadDecimal(reader), ReadDecimal(reader),
                StringTable.Read(reader, strings), StringTable.Read(reader, strings), StringTable.Read(reader, strings)));
            var dropped = manifest == ManifestV2 ? null : ReadList(reader, () => ReadPosition(reader));
            return new UsageRecorded(accepted, watermarks, duplicates, at, draws, charges, dropped);
        }
        catch (Exception e) when (e is EndOfStreamException or FormatException or ArgumentException or OverflowException)
        {
            throw new SerializationException($"Corrupt {manifest} row", e);
        }
    }

    private static void WritePosition(BinaryWriter writer, KafkaPosition position)
    {
        writer.Write7BitEncodedInt(position.Partition);
        writer.Write7BitEncodedInt64(position.Offset);
    }

    private static KafkaPosition ReadPosition(BinaryReader reader) => new(reader.Read7BitEncodedInt(), reader.Read7BitEncodedInt64());

    /// <summary>The plan, team and user a draw or charge belongs to: what the read side groups amounts by.</summary>
    private static void WriteCovered(BinaryWriter writer, StringTable strings, string? planId, string? team, string? user)
    {
        strings.Write(writer, planId);
        strings.Write(writer, team);
        strings.Write(writer, user);
    }

    private static void WriteTime(BinaryWriter writer, DateTimeOffset time)
    {
        writer.Write(time.UtcTicks);
        writer.Write7BitEncodedInt((int)ZigZag((long)time.Offset.TotalMinutes));
    }

    private static DateTimeOffset ReadTime(BinaryReader reader)
    {
        var ticks = reader.ReadInt64();
        var offset = TimeSpan.FromMinutes(UnZigZag(reader.Read7BitEncodedInt()));
        return new DateTimeOffset(ticks, TimeSpan.Zero).ToOffset(offset);
    }

    /// <summary>Null is count 0, so an absent list and an empty one stay apart.</summary>
    private static void WriteList<T>(BinaryWriter writer, IReadOnlyList<T>? items, Action<T> write)
    {
        writer.Write7BitEncodedInt(items is null ? 0 : items.Count + 1);
        if (items is null) return;
        foreach (var item in items) write(item);
    }

    private static T[]? ReadList<T>(BinaryReader reader, Func<T> read)
    {
        var count = reader.Read7BitEncodedInt();
        if (count == 0) return null;
        var items = new T[count - 1];
        for (var i = 0; i < items.Length; i++) items[i] = read();
        return items;
    }

    /// <summary>
    /// Exact, scale included (2.50 stays 2.50): a flags byte (scale, sign, whether the top 32 bits
    /// are used), then the 96-bit integer as a varint of its low 64 bits and, if used, the top 32.
    /// </summary>
    private static void WriteDecimal(BinaryWriter writer, decimal value)
    {
        Span<int> bits = stackalloc int[4];
        decimal.GetBits(value, bits);
        var scale = (byte)((bits[3] >> 16) & 0xFF);
        var negative = bits[3] < 0;
        var high = bits[2] != 0;
        writer.Write((byte)(scale | (negative ? 0x80 : 0) | (high ? 0x40 : 0)));
        writer.Write7BitEncodedInt64((long)(((ulong)(uint)bits[1] << 32) | (uint)bits[0]));
        if (high) writer.Write(bits[2]);
    }

    private static decimal ReadDecimal(BinaryReader reader)
    {
        var flags = reader.ReadByte();
        var low = (ulong)reader.Read7BitEncodedInt64();
        var high = (flags & 0x40) != 0 ? reader.ReadInt32() : 0;
        return new decimal((int)(uint)low, (int)(uint)(low >> 32), high, (flags & 0x80) != 0, (byte)(flags & 0x3F));
    }

    private static long ZigZag(long value) => (value << 1) ^ (value >> 63);

    private static long UnZigZag(long value) => (long)((ulong)value >> 1) ^ -(value & 1);

    /// <summary>
    /// Strings that repeat within a row: 0 is null, <c>n</c> refers to the n-th string written so far,
    /// and one past the last introduces a new string written right after.
    /// </summary>
    private sealed class StringTable
    {
        private readonly Dictionary<string, int> _indexes = new(StringComparer.Ordinal);

        public void Write(BinaryWriter writer, string? value)
        {
            if (value is null)
            {
                writer.Write7BitEncodedInt(0);
                return;
            }
            if (_indexes.TryGetValue(value, out var index))
            {
                writer.Write7BitEncodedInt(index + 1);
                return;
            }
            _indexes[value] = _indexes.Count;
            writer.Write7BitEncodedInt(_indexes.Count);
            writer.Write(value);
        }

        public static string? Read(BinaryReader reader, List<string> strings)
        {
            var reference = reader.Read7BitEncodedInt();
            if (reference == 0) return null;
            if (reference <= strings.Count) return strings[reference - 1];
            if (reference != strings.Count + 1) throw new FormatException($"String reference {reference} skips ahead of {strings.Count}");
            var value = reader.ReadString();
            strings.Add(value);
            return value;
        }
    }
}
