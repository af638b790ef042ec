using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Metering.Domain.Usage;
using Metering.Host.Auth;
using Metering.Ingestion.CloudEvents;
using Metering.Ingestion.Kafka;
using Microsoft.AspNetCore.Http.Features;

namespace Metering.Host.Api;

/// <summary>
/// <c>POST /api/v1/events</c>: CloudEvents over HTTP land in the usage topic, validated by the same
/// rules as the consumer. 202 means Kafka acknowledged every event; a batch with any invalid event is
/// refused whole, so a client never has to work out which half went in.
/// </summary>
public static class EventsEndpoints
{
    public const long MaxBodyBytes = 1024 * 1024;
    public const int MaxBatchEvents = 1_000;

    private const string Single = "application/cloudevents+json";
    private const string Batch = "application/cloudevents-batch+json";
    private const string Json = "application/json";

    /// <summary>An ingest key of one account sent an event for another (the whole request is 403).</summary>
    public const string SubjectNotAllowed = "subject_not_allowed";

    public sealed record EventError(int Index, string? Id, string Code, string Detail);
    public sealed record EventsAccepted(int Accepted);

    public static RouteGroupBuilder MapEventsEndpoints(this RouteGroupBuilder api)
    {
        api.MapPost("/events", Post)
            .Accepts<JsonElement>(Single, Batch, Json)
            .Produces<EventsAccepted>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .RequireScope(ApiScopes.Ingest)
            .WithName("PostEvents");
        return api;
    }

    private static async Task<IResult> Post(
        HttpRequest request,
        UsageEventParser parser,
        MeteringProducer producer,
        KafkaOptions kafka,
        TimeProvider time,
        CancellationToken ct)
    {
        var mediaType = (request.ContentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType is not (Single or Batch or Json))
            return Problem(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Unsupported content type",
                $"Send one event as {Single} or a JSON array of events as {Batch}.");

        // Refused before the limit is lowered: with the body declared over the limit, Kestrel could not
        // read and discard it after the answer and would close the connection while the client is
        // still sending, so the client saw a broken pipe instead of this 413.
        if (request.ContentLength > MaxBodyBytes)
            return TooLarge();
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = MaxBodyBytes;

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, cancellationToken: ct);
        }
        catch (JsonException e)
        {
            return Problem(StatusCodes.Status400BadRequest, "malformed_json", "Malformed JSON", e.Message);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge();
        }

        using (document)
        {
            var root = document.RootElement;
            var expectArray = mediaType == Batch || (mediaType == Json && root.ValueKind == JsonValueKind.Array);
            if (expectArray != (root.ValueKind == JsonValueKind.Array))
                return Problem(StatusCodes.Status400BadRequest, "wrong_shape", "Wrong shape",
                    expectArray ? "A batch is a JSON array of CloudEvents." : "A single CloudEvent is a JSON object.");

            var events = expectArray ? root.EnumerateArray().ToArray() : [root];
            if (events.Length == 0)
                return Problem(StatusCodes.Status400BadRequest, "empty_batch", "Empty batch", "Send at least one event.");
            if (events.Length > MaxBatchEvents)
                return Problem(StatusCodes.Status413PayloadTooLarge, "batch_too_large", "Batch too large", $"At most {MaxBatchEvents} events per request.");

            var now = time.GetUtcNow();
            // An ingest key of one account produces only that account's usage.
            var onlyAccount = ApiAuthentication.CallerOf(request.HttpContext) is { } caller && !caller.Has(ApiScopes.Admin) ? caller.AccountId : null;
            var errors = new List<EventError>();
            var valid = new List<(string AccountId, byte[] Value)>(events.Length);
            var seen = new HashSet<DedupeKey>();
            for (var i = 0; i < events.Length; i++)
            {
                // The event's own bytes, as it lands in Kafka and the consumer parses it.
                var value = Encoding.UTF8.GetBytes(events[i].GetRawText());
                var parsed = parser.Parse(value, key: null, default, now);
                if (parsed.Rejection is { } rejection)
                    errors.Add(new EventError(i, UsageEventParser.IdOf(value), rejection.Code, rejection.Detail));
                else if (onlyAccount is not null && parsed.AccountId != onlyAccount)
                    errors.Add(new EventError(i, parsed.Record!.EventId, SubjectNotAllowed, $"This key produces usage for '{onlyAccount}' only."));
                else if (!seen.Add(parsed.Record!.DedupeKey))
                    errors.Add(new EventError(i, parsed.Record.EventId, "duplicate_in_batch", "Another event in this batch has the same source and id."));
                else
                    valid.Add((parsed.AccountId!, value));
            }
            if (errors.Count > 0)
                return Results.Problem(
                    statusCode: errors.Any(e => e.Code == SubjectNotAllowed) ? StatusCodes.Status403Forbidden : StatusCodes.Status400BadRequest,
                    title: "Invalid events",
                    detail: $"{errors.Count} of {events.Length} events are invalid; none were accepted.",
                    extensions: new Dictionary<string, object?> { ["code"] = errors[0].Code, ["errors"] = errors });

            try
            {
                await Task.WhenAll(valid.Select(v => producer.ProduceAsync(kafka.UsageTopic, v.AccountId, v.Value, ct: ct)));
            }
            catch (ProduceException<string?, byte[]> e)
            {
                return Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Kafka did not acknowledge",
                    detail: $"{e.Error.Reason}. Retry the same events: their ids make the retry safe.");
            }
            return Results.Accepted(value: new EventsAccepted(valid.Count));
        }
    }

    private static IResult TooLarge() =>
        Problem(StatusCodes.Status413PayloadTooLarge, "payload_too_large", "Payload too large", $"At most {MaxBodyBytes} bytes per request.");

    private static IResult Problem(int status, string code, string title, string detail) =>
        Results.Problem(statusCode: status, title: title, detail: detail, extensions: new Dictionary<string, object?> { ["code"] = code });
}
