using System.Globalization;
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
public sealed class UsageEventParser(MeterCatalog meters, UsageEventLimits limits)
{
    public const int MaxIdLength = 256;
    public const int MaxSourceLength = 512;
    public const int MaxDimensionLength = 128;

    /// <summary>
    /// Parses over the caller's bytes: <c>JsonDocument.ParseValue</c> copied every record's value
    /// first (with the document's allocations, 5 % of the engine's CPU at 10,000 accounts). Anything
    /// after the one JSON value is refused as malformed.
    /// </summary>
    public ParsedEvent Parse(ReadOnlyMemory<byte> json, string? key, KafkaPosition position, DateTimeOffset now)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            return ParsedEvent.Reject("malformed_json", $"Not valid JSON: {e.Message}");
        }
        using (document)
        {
            return Parse(document.RootElement, key, position, now);
        }
    }

    public ParsedEvent Parse(JsonElement root, string? key, KafkaPosition position, DateTimeOffset now)
    {
        if (root.ValueKind != JsonValueKind.Object)
            return ParsedEvent.Reject("not_an_object", "A CloudEvent must be a JSON object.");

        // Compared in place where a string would only be compared (the fixed attributes, the type, a
        // subject equal to the Kafka key): fewer allocations per event on the engine's hot path.
        if (!(root.TryGetProperty("specversion", out var specVersion) && TextEquals(specVersion, "1.0") == true))
            return ParsedEvent.Reject("invalid_specversion", "'specversion' must be \"1.0\".");

        var id = ReadString(root, "id");
        if (string.IsNullOrEmpty(id) || id.Length > MaxIdLength || !IsPrintable(id))
            return ParsedEvent.Reject("invalid_id", $"'id' must be a non-empty string of at most {MaxIdLength} characters, without control characters.");

        var source = ReadString(root, "source");
        if (string.IsNullOrEmpty(source) || source.Length > MaxSourceLength || !IsPrintable(source))
            return ParsedEvent.Reject("invalid_source", $"'source' must be a non-empty string of at most {MaxSourceLength} characters, without control characters.");

        root.TryGetProperty("type", out var type);
        var meter = FindMeter(type);
        if (meter is null)
            return Text(type) is { Length: > 0 } unknown
                ? ParsedEvent.Reject("unknown_type", $"Event type '{Truncate(unknown)}' feeds no meter.")
                : ParsedEvent.Reject("invalid_type", "'type' is required.");

        var subject = !root.TryGetProperty("subject", out var subjectElement) ? null
            : key is not null && TextEquals(subjectElement, key) == true ? key
            : Text(subjectElement);
        if (subject is null)
            return ParsedEvent.Reject("missing_subject", "'subject' (the account id) is required.");
        if (!AccountId.IsValid(subject))
            return ParsedEvent.Reject("invalid_subject", $"'subject' must be an account id: {AccountId.Rule}.");
        if (key is not null && key != subject)
            return ParsedEvent.Reject("subject_key_mismatch", $"Kafka key '{Truncate(key)}' does not match subject '{subject}'.");

        var contentType = !root.TryGetProperty("datacontenttype", out var contentTypeElement) || TextEquals(contentTypeElement, "application/json") == true
            ? null
            : Text(contentTypeElement);
        if (contentType is not null && !contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            return ParsedEvent.Reject("invalid_datacontenttype", "'datacontenttype' must be application/json when present.");

        var occurredAt = now;
        if (root.TryGetProperty("time", out var timeElement))
        {
            if (Text(timeElement) is not { } timeText
                || !DateTimeOffset.TryParse(timeText, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out occurredAt))
                return ParsedEvent.Reject("invalid_time", "'time' must be an RFC 3339 timestamp.");
            if (occurredAt - now > limits.MaxFutureSkew)
                return ParsedEvent.Reject("time_in_future", $"'time' is more than {limits.MaxFutureSkew.TotalHours:0} h ahead of the engine's clock.");
            if (now - occurredAt > limits.MaxAge)
                return ParsedEvent.Reject("time_too_old", $"'time' is more than {limits.MaxAge.TotalDays:0} days behind the engine's clock.");
        }

        if (root.TryGetProperty("data", out var data) && data.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
            return ParsedEvent.Reject("invalid_data", "'data' must be a JSON object.");

        var quantity = 1m;
        if (meter.Aggregation == MeterAggregation.Sum && TryFind(root, meter.ValuePath, out var value))
        {
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out quantity))
                return ParsedEvent.Reject("invalid_quantity", $"'{meter.ValuePath}' must be a number.");
        }
        if (quantity <= 0)
            return ParsedEvent.Reject("invalid_quantity", $"'{meter.ValuePath}' must be greater than zero.");
        if (quantity > limits.MaxQuantity)
            return ParsedEvent.Reject("quantity_too_large", $"'{meter.ValuePath}' is over the limit of {limits.MaxQuantity}.");
        if (!meter.AllowFractional && quantity != decimal.Truncate(quantity))
            return ParsedEvent.Reject("fractional_quantity", $"Meter '{meter.Key}' counts whole units; '{meter.ValuePath}' must be an integer.");

        // Team: the CloudEvents extension attribute wins over data.team.
        if (!TryDimension(root, "team", out var team) || (team is null && !TryDimension(data, "team", out team)))
            return ParsedEvent.Reject("invalid_team", $"'team' must be a string of at most {MaxDimensionLength} characters.");
        if (!TryDimension(data, "user", out var user))
            return ParsedEvent.Reject("invalid_user", $"'data.user' must be a string of at most {MaxDimensionLength} characters.");

        var record = new UsageRecord(source, id, meter.Key, quantity, occurredAt.ToUniversalTime(), team, user, position);
        return new ParsedEvent(subject, record, null);
    }

    /// <summary>Whether a JSON string is <paramref name="value"/>, compared without making a string; null for other kinds and for escapes that are no text.</summary>
    private static bool? TextEquals(JsonElement e, string value)
    {
        if (e.ValueKind != JsonValueKind.String) return null;
        try
        {
            return e.ValueEquals(value);
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The meter fed by <paramref name="type"/>, compared in place: catalogs hold a handful of meters.</summary>
    private MeterDefinition? FindMeter(JsonElement type)
    {
        foreach (var meter in meters.Meters)
            if (TextEquals(type, meter.EventType) == true) return meter;
        return null;
    }

    /// <summary>A string member of an object; null when absent, not a string, or no text (a lone UTF-16 surrogate).</summary>
    public static string? ReadString(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var p) ? Text(p) : null;

    /// <summary>A JSON string's value; null for other kinds and for escapes that are no text (a lone UTF-16 surrogate).</summary>
    private static string? Text(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.String) return null;
        try
        {
            return e.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Ids and names end up in logs, headers and pages: no control or format characters (line breaks, bidi overrides, NUL).</summary>
    public static bool IsPrintable(string s)
    {
        // A loop rather than LINQ: this runs for every event's id and source, and an enumerator per call adds up.
        foreach (var c in s)
            if (char.IsControl(c) || char.GetUnicodeCategory(c) is UnicodeCategory.Format) return false;
        return true;
    }

    /// <summary>An optional string dimension: absent or null is fine, anything else must be a short string.</summary>
    private static bool TryDimension(JsonElement obj, string name, out string? value)
    {
        value = null;
        if (obj.ValueKind != JsonValueKind.Object || !obj.TryGetProperty(name, out var p) || p.ValueKind == JsonValueKind.Null)
            return true;
        if (Text(p) is not { } text) return false;
        value = text.Length == 0 ? null : text;
        return value is null || (value.Length <= MaxDimensionLength && IsPrintable(value));
    }

    private static bool TryFind(JsonElement root, string path, out JsonElement value)
    {
        value = root;
        // Segments as ranges of the path, not split strings: this runs for every event.
        foreach (var segment in path.AsSpan().Split('.'))
        {
            if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty(path.AsSpan(segment), out value))
                return false;
        }
        return value.ValueKind != JsonValueKind.Null;
    }

    private static string Truncate(string s) => s.Length <= 64 ? s : s[..64] + "…";
}
