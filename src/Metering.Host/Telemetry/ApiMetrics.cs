using System.Diagnostics.Metrics;

namespace Metering.Host.Telemetry;

/// <summary>
/// <c>metering.api.rejected{reason}</c>: every 4xx problem the API answers (bad input, auth, rate
/// limits), counted in one place, where problem details are written. <c>reason</c> is the problem's
/// <c>code</c> (a refused batch of events: its first event's code), else the status's name.
/// </summary>
public sealed class ApiMetrics : IDisposable
{
    public const string MeterName = "Metering.Api";

    private readonly Meter _meter;
    private readonly Counter<long> _rejected;

    public ApiMetrics(IMeterFactory factory)
    {
        _meter = factory.Create(MeterName);
        _rejected = _meter.CreateCounter<long>("metering.api.rejected", description: "HTTP requests refused with a 4xx problem, by reason");
    }

    public void Rejected(string reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", reason));

    /// <summary>
    /// Gives every 4xx problem a <c>code</c> (the status's name when the endpoint set none, e.g. a 415
    /// from routing) and counts it when it refuses an API call.
    /// </summary>
    public static void Count(ProblemDetailsContext context)
    {
        var status = context.ProblemDetails.Status ?? context.HttpContext.Response.StatusCode;
        if (status is < 400 or >= 500) return;
        var reason = context.ProblemDetails.Extensions.TryGetValue("code", out var code) && code is string s ? s : status switch
        {
            400 => "bad_request",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            409 => "conflict",
            413 => "payload_too_large",
            415 => "unsupported_media_type",
            429 => "rate_limited",
            _ => $"status_{status}",
        };
        context.ProblemDetails.Extensions["code"] = reason;
        var path = context.HttpContext.Request.Path;
        if (!path.StartsWithSegments("/api") && !path.StartsWithSegments("/session")) return;
        context.HttpContext.RequestServices.GetRequiredService<ApiMetrics>().Rejected(reason);
    }

    public void Dispose() => _meter.Dispose();
}
