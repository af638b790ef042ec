using System.Globalization;
using System.Text;
using System.Text.Json;
using Metering.Domain.Accounts;
using Metering.Domain.Meters;
using Metering.Domain.Usage;

namespace Metering.Ingestion.CloudEvents;

/// <summary>Why an event was refused; <see cref="Code"/> is stable (metrics, DLQ header), <see cref="Detail"/> is for people.</summary>
public sealed record Rejection(string Code, string Detail);

/// <summary>Either a usage record for an account, or the reason it was refused.</summary>
public readonly record struct ParsedEvent(string? AccountId, UsageRecord? Record, Rejection? Rejection)
{
    public bool IsValid => Rejection is null;

    internal static ParsedEvent Reject(string code, string detail) => new(null, null, new Rejection(code, detail));
}

/// <summary>Limits on what a usage event may claim.</summary>
/// <param name="MaxQuantity">Larger quantities are taken as a producer bug, not usage.</param>
/// <param name="MaxFutureSkew">How far ahead of the engine's clock an event's time may be.</param>
/// <param name="MaxAge">How far behind it: older usage belongs to periods long invoiced, so it is a replay or a broken clock.</param>
public sealed record UsageEventLimits(decimal MaxQuantity, TimeSpan MaxFutureSkew, TimeSpan MaxAge)
{
    public static UsageEventLimits Default { get; } = new(1_000_000m, TimeSpan.FromHours(24), TimeSpan.FromDays(400));
}

/// <summary>
/// Reads a structured-mode CloudEvents 1.0 JSON usage event and maps it to a meter. The same rules
/// serve Kafka (invalid goes to the dead-letter topic) and HTTP (invalid is answered 400), so an
/// event accepted by one is accepted by the other.
/// </summary>
public sealed class UsageEventParser
{
    public const int MaxIdLength = 256;
    public const int MaxSourceLength = 512;
    public const int MaxDimensionLength = 128;

    // The top-level members the rules read, by their place in _topNames; meters' value paths may add more.
    private const int SpecVersion = 0, Id = 1, Source = 2, Type = 3, Subject = 4, ContentType = 5, Time = 6, Data = 7, Team = 8;
    private static readonly string[] TopMembers = ["specversion", "id", "source", "type", "subject", "datacontenttype", "time", "data", "team"];
    // What the rules read inside data, by place in _dataNames; meters' value paths under data add more.
    private const int DataTeam = 0, DataUser = 1;
    private static readonly string[] DataMembers = ["team", "user"];
    private static readonly byte[][] IdOnly = [Utf8("id")];
    private static readonly byte[] Version = Utf8("1.0"), Json = Utf8("application/json");

    private readonly UsageEventLimits _limits;
    private readonly byte[][] _topNames;
    private readonly byte[][] _dataNames;
    private readonly MeterReading[] _meters;
    // A string per event for a value that a producer repeats in all of them was one more object
    // per event alive until its batch was written.
    private readonly RepeatedStrings _sources = new();

    public UsageEventParser(MeterCatalog meters, UsageEventLimits limits)
    {
        _limits = limits;
        var top = new List<string>(TopMembers);
        var inData = new List<string>(DataMembers);
        var readings = new List<MeterReading>();
        foreach (var meter in meters.Meters)
        {
            var path = meter.ValuePath.Split('.');
            readings.Add(path is ["data", var member, ..]
                ? new MeterReading(meter, Utf8(meter.EventType), Data, Place(inData, member), [.. path.Skip(2).Select(Utf8)])
                : new MeterReading(meter, Utf8(meter.EventType), Place(top, path[0]), -1, [.. path.Skip(1).Select(Utf8)]));
        }
        _meters = [.. readings];
        _topNames = [.. top.Select(Utf8)];
        _dataNames = [.. inData.Select(Utf8)];

        // Where a member name sits in its list, added at the end the first time a path names it.
        static int Place(List<string> names, string name)
        {
            if (!names.Contains(name)) names.Add(name);
            return names.IndexOf(name);
        }
    }

    /// <summary>
    /// Reads the event in one pass of a <c>Utf8JsonReader</c> over the caller's bytes, noting where
    /// each member the rules read sits (the last one when a name repeats, as <c>JsonElement</c>
    /// lookups do), then applies the rules in a fixed order, so a rejection names the first rule
    /// broken. <c>JsonDocument</c> indexed every token first, then looked each member up by name
    /// (session 16). Anything after the one JSON value is refused as malformed.
    /// </summary>
    public ParsedEvent Parse(ReadOnlySpan<byte> json, string? key, KafkaPosition position, DateTimeOffset now)
    {
        Span<Slice> top = stackalloc Slice[_topNames.Length];
        bool isObject;
        try
        {
            isObject = ScanEvent(json, _topNames, top);
        }
        catch (JsonException e)
        {
            return ParsedEvent.Reject("malformed_json", $"Not valid JSON: {e.Message}");
        }
        if (!isObject)
            return ParsedEvent.Reject("not_an_object", "A CloudEvent must be a JSON object.");

        // Compared in place where a string would only be compared (the fixed attributes, the type, a
        // subject equal to the Kafka key): fewer allocations per event on the engine's hot path.
        if (TextEquals(json, top[SpecVersion], Version) != true)
            return ParsedEvent.Reject("invalid_specversion", "'specversion' must be \"1.0\".");

        var id = Text(json, top[Id]);
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength || !IsPrintable(id))
            return ParsedEvent.Reject("invalid_id", $"'id' must be a non-empty string of at most {MaxIdLength} characters, without control characters.");

        var source = Text(json, top[Source], _sources);
        if (string.IsNullOrEmpty(source) || source.Length > MaxSourceLength || !IsPrintable(source))
            return ParsedEvent.Reject("invalid_source", $"'source' must be a non-empty string of at most {MaxSourceLength} characters, without control characters.");

        var reading = FindMeter(json, top[Type]);
        if (reading is null)
            return Text(json, top[Type]) is { Length: > 0 } unknown
                ? ParsedEvent.Reject("unknown_type", $"Event type '{Truncate(unknown)}' feeds no meter.")
                : ParsedEvent.Reject("invalid_type", "'type' is required.");
        var meter = reading.Meter;

        var subject = !top[Subject].Found ? null
            : key is not null && TextEquals(json, top[Subject], key) == true ? key
            : Text(json, top[Subject]);
        if (subject is null)
            return ParsedEvent.Reject("missing_subject", "'subject' (the account id) is required.");
        if (!AccountId.IsValid(subject))
            return ParsedEvent.Reject("invalid_subject", $"'subject' must be an account id: {AccountId.Rule}.");
        if (key is not null && key != subject)
            return ParsedEvent.Reject("subject_key_mismatch", $"Kafka key '{Truncate(key)}' does not match subject '{subject}'.");

        var contentType = !top[ContentType].Found || TextEquals(json, top[ContentType], Json) == true ? null : Text(json, top[ContentType]);
        if (contentType is not null && !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            return ParsedEvent.Reject("invalid_datacontenttype", "'datacontenttype' must be application/json when present.");

        var occurredAt = now;
        if (top[Time].Found)
        {
            var time = top[Time];
            if (!(time is { Kind: JsonTokenType.String, Escaped: false } && Rfc3339.TryParse(json.Slice(time.Start, time.Length), out occurredAt))
                && (Text(json, time) is not { } timeText
                    || !DateTimeOffset.TryParse(timeText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out occurredAt)))
                return ParsedEvent.Reject("invalid_time", "'time' must be an RFC 3339 timestamp.");
            if (occurredAt - now > _limits.MaxFutureSkew)
                return ParsedEvent.Reject("time_in_future", $"'time' is more than {_limits.MaxFutureSkew.TotalHours:0} h ahead of the engine's clock.");
            if (now - occurredAt > _limits.MaxAge)
                return ParsedEvent.Reject("time_too_old", $"'time' is more than {_limits.MaxAge.TotalDays:0} days behind the engine's clock.");
        }

        var data = top[Data];
        if (data.Found && data.Kind is not (JsonTokenType.StartObject or JsonTokenType.Null))
            return ParsedEvent.Reject("invalid_data", "'data' must be a JSON object.");
        Span<Slice> inData = stackalloc Slice[_dataNames.Length];
        if (data.Kind == JsonTokenType.StartObject) ScanObject(json, data, _dataNames, inData);

        var quantity = 1m;
        if (meter.Aggregation == MeterAggregation.Sum
            && TryFind(json, reading.InData >= 0 ? inData[reading.InData] : top[reading.Head], reading.Tail, out var value))
        {
            if (value.Kind != JsonTokenType.Number || !TryDecimal(json, value, out quantity))
                return ParsedEvent.Reject("invalid_quantity", $"'{meter.ValuePath}' must be a number.");
        }
        if (quantity <= 0)
            return ParsedEvent.Reject("invalid_quantity", $"'{meter.ValuePath}' must be greater than zero.");
        if (quantity > _limits.MaxQuantity)
            return ParsedEvent.Reject("quantity_too_large", $"'{meter.ValuePath}' is over the limit of {_limits.MaxQuantity}.");
        if (!meter.AllowFractional && quantity != decimal.Truncate(quantity))
            return ParsedEvent.Reject("fractional_quantity", $"Meter '{meter.Key}' counts whole units; '{meter.ValuePath}' must be an integer.");

        // Team: the CloudEvents extension attribute wins over data.team.
        if (!TryDimension(json, top[Team], out var team) || (team is null && !TryDimension(json, inData[DataTeam], out team)))
            return ParsedEvent.Reject("invalid_team", $"'team' must be a string of at most {MaxDimensionLength} characters.");
        if (!TryDimension(json, inData[DataUser], out var user))
            return ParsedEvent.Reject("invalid_user", $"'data.user' must be a string of at most {MaxDimensionLength} characters.");

        var record = new UsageRecord(source, id, meter.Key, quantity, occurredAt.ToUniversalTime(), team, user, position);
        return new ParsedEvent(subject, record, null);
    }

    /// <summary>The <c>id</c> of a JSON object, to name an event that was refused; null when there is none to name.</summary>
    public static string? IdOf(ReadOnlySpan<byte> json)
    {
        Span<Slice> found = stackalloc Slice[1];
        try
        {
            return ScanEvent(json, IdOnly, found) ? Text(json, found[0]) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Ids and names end up in logs, headers and pages: no control or format characters (line breaks, bidi overrides, NUL).</summary>
    public static bool IsPrintable(string s)
    {
        // Printable ASCII, the usual case, is checked vectorized; asking each character its category was
        // a tenth of the parser's time.
        var span = s.AsSpan();
        var other = span.IndexOfAnyExceptInRange(' ', '~');
        if (other < 0) return true;
        foreach (var c in span[other..])
            if (char.IsControl(c) || char.GetUnicodeCategory(c) is UnicodeCategory.Format) return false;
        return true;
    }

    /// <summary>
    /// Where a member's value sits in the event's bytes: a string's text between its quotes (still
    /// escaped when <see cref="Escaped"/>), any other value whole. Not found when <see cref="Kind"/> is None.
    /// </summary>
    private readonly record struct Slice(int Start, int Length, JsonTokenType Kind, bool Escaped)
    {
        public bool Found => Kind != JsonTokenType.None;
    }

    /// <summary>A meter with what it takes to find it and its quantity without strings: its type and value path as UTF-8.</summary>
    /// <param name="Head">Place in <c>_topNames</c> of the path's first member.</param>
    /// <param name="InData">Place in <c>_dataNames</c> of the path's second member when the first is <c>data</c>, else -1.</param>
    /// <param name="Tail">The path's members after those, outermost first.</param>
    private sealed record MeterReading(MeterDefinition Meter, byte[] EventType, int Head, int InData, byte[][] Tail);

    private static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    /// <summary>
    /// Reads the one JSON value <paramref name="json"/> holds and answers whether it is an object,
    /// noting where its members of <paramref name="names"/> sit. Throws <see cref="JsonException"/>
    /// for anything else than exactly one JSON value (trailing whitespace aside).
    /// </summary>
    private static bool ScanEvent(ReadOnlySpan<byte> json, ReadOnlySpan<byte[]> names, scoped Span<Slice> found)
    {
        var reader = new Utf8JsonReader(json);
        reader.Read();
        var isObject = reader.TokenType == JsonTokenType.StartObject;
        if (isObject) ScanObject(ref reader, 0, names, found);
        else reader.Skip();
        while (reader.Read()) { }
        return isObject;
    }

    /// <summary>
    /// With the reader on an object's start, reads to its end, noting in <paramref name="found"/> where
    /// the value of each of <paramref name="names"/> sits (the last when one repeats).
    /// </summary>
    private static void ScanObject(ref Utf8JsonReader reader, int offset, ReadOnlySpan<byte[]> names, scoped Span<Slice> found)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var index = NameIndex(ref reader, names);
            reader.Read();
            var start = (int)reader.TokenStartIndex;
            var kind = reader.TokenType;
            if (kind == JsonTokenType.String)
            {
                if (index >= 0) found[index] = new Slice(offset + start + 1, reader.ValueSpan.Length, kind, reader.ValueIsEscaped);
                continue;
            }
            reader.Skip();
            if (index >= 0) found[index] = new Slice(offset + start, (int)reader.BytesConsumed - start, kind, false);
        }
    }

    /// <summary><see cref="ScanObject(ref Utf8JsonReader, int, ReadOnlySpan{byte[]}, Span{Slice})"/> over an object read before, so valid JSON.</summary>
    private static void ScanObject(ReadOnlySpan<byte> json, Slice obj, ReadOnlySpan<byte[]> names, scoped Span<Slice> found)
    {
        var reader = new Utf8JsonReader(json.Slice(obj.Start, obj.Length));
        reader.Read();
        ScanObject(ref reader, obj.Start, names, found);
    }

    private static int NameIndex(ref Utf8JsonReader reader, ReadOnlySpan<byte[]> names)
    {
        try
        {
            for (var i = 0; i < names.Length; i++)
                if (reader.ValueTextEquals(names[i])) return i;
        }
        catch (InvalidOperationException)
        {
            // An escape that is no text (a lone UTF-16 surrogate) names nothing the rules read.
        }
        return -1;
    }

    /// <summary>A reader on a string found before, quotes included, for the text behind its escapes.</summary>
    private static Utf8JsonReader EscapedString(ReadOnlySpan<byte> json, Slice text)
    {
        var reader = new Utf8JsonReader(json.Slice(text.Start - 1, text.Length + 2));
        reader.Read();
        return reader;
    }

    /// <summary>Whether a JSON string is <paramref name="utf8"/>, compared without making a string; null for other kinds and for escapes that are no text.</summary>
    private static bool? TextEquals(ReadOnlySpan<byte> json, Slice value, ReadOnlySpan<byte> utf8)
    {
        if (value.Kind != JsonTokenType.String) return null;
        if (!value.Escaped) return json.Slice(value.Start, value.Length).SequenceEqual(utf8);
        var reader = EscapedString(json, value);
        try
        {
            return reader.ValueTextEquals(utf8);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static bool? TextEquals(ReadOnlySpan<byte> json, Slice value, string text)
    {
        if (value.Kind != JsonTokenType.String) return null;
        // The reader's own comparison, escapes or not: it also answers false for bytes that are no UTF-8.
        var reader = EscapedString(json, value);
        try
        {
            return reader.ValueTextEquals(text);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>A JSON string's value; null when absent, for other kinds, and for bytes or escapes that are no text (a lone UTF-16 surrogate).</summary>
    /// <param name="repeated">Where the strings of values that repeat across events are kept, if this one does.</param>
    private static string? Text(ReadOnlySpan<byte> json, Slice value, RepeatedStrings? repeated = null)
    {
        if (value.Kind != JsonTokenType.String) return null;
        if (!value.Escaped)
        {
            var utf8 = json.Slice(value.Start, value.Length);
            if (!System.Text.Unicode.Utf8.IsValid(utf8)) return null;
            return repeated is null ? Encoding.UTF8.GetString(utf8) : repeated.Get(utf8);
        }
        var reader = EscapedString(json, value);
        try
        {
            return reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The meter fed by the event's type, compared in place: catalogs hold a handful of meters.</summary>
    private MeterReading? FindMeter(ReadOnlySpan<byte> json, Slice type)
    {
        foreach (var reading in _meters)
            if (TextEquals(json, type, reading.EventType) == true) return reading;
        return null;
    }

    /// <summary>An optional string dimension: absent or null is fine, anything else must be a short string.</summary>
    private static bool TryDimension(ReadOnlySpan<byte> json, Slice member, out string? value)
    {
        value = null;
        if (member.Kind is JsonTokenType.None or JsonTokenType.Null)
            return true;
        if (Text(json, member) is not { } text) return false;
        value = text.Length == 0 ? null : text;
        return value is null || (value.Length <= MaxDimensionLength && IsPrintable(value));
    }

    /// <summary>The value at the rest of a meter's path: found when every member on the way is there and the last is not null.</summary>
    private static bool TryFind(ReadOnlySpan<byte> json, Slice start, byte[][] tail, out Slice value)
    {
        value = start;
        Span<Slice> found = stackalloc Slice[1];
        foreach (var name in tail)
        {
            if (value.Kind != JsonTokenType.StartObject) return false;
            found[0] = default;
            ScanObject(json, value, [name], found);
            value = found[0];
        }
        return value.Kind is not (JsonTokenType.None or JsonTokenType.Null);
    }

    private static bool TryDecimal(ReadOnlySpan<byte> json, Slice number, out decimal quantity)
    {
        var reader = new Utf8JsonReader(json.Slice(number.Start, number.Length));
        reader.Read();
        return reader.TryGetDecimal(out quantity);
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";
}
