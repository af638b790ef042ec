using System.Globalization;
using System.Threading.RateLimiting;
using Metering.Host.Auth;
using Microsoft.AspNetCore.RateLimiting;

namespace Metering.Host.Api;

/// <summary>
/// <c>Metering:RateLimits:*</c>: token buckets per key (requests per second and the burst a bucket
/// holds). Ingestion has its own bucket so a busy producer does not starve the page of the same key;
/// callers without a valid key (including sign-in attempts) share a bucket per client address.
/// </summary>
public sealed class RateLimitOptions
{
    public int ApiPerSecond { get; set; } = 200;
    public int ApiBurst { get; set; } = 400;
    public int IngestPerSecond { get; set; } = 1_000;
    public int IngestBurst { get; set; } = 2_000;
    public int AnonymousPerSecond { get; set; } = 20;
    public int AnonymousBurst { get; set; } = 40;
}

public static class RateLimits
{
    public static IServiceCollection AddMeteringRateLimits(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("Metering:RateLimits").Get<RateLimitOptions>() ?? new RateLimitOptions();
        return services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http => Partition(http, options));
            o.OnRejected = async (context, ct) =>
            {
                var wait = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
                var seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
                context.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                await Results.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many requests",
                    detail: $"This key's rate limit was reached; retry after {seconds} s.",
                    extensions: new Dictionary<string, object?> { ["code"] = "rate_limited" }).ExecuteAsync(context.HttpContext);
            };
        });
    }

    private static RateLimitPartition<string> Partition(HttpContext http, RateLimitOptions options)
    {
        var path = http.Request.Path;
        if (!path.StartsWithSegments("/api") && !path.StartsWithSegments(SessionEndpoints.Path))
            return RateLimitPartition.GetNoLimiter("unlimited");
        if (ApiAuthentication.CallerOf(http) is not { } caller)
            return Bucket("anonymous:" + http.Connection.RemoteIpAddress, options.AnonymousPerSecond, options.AnonymousBurst);
        return HttpMethods.IsPost(http.Request.Method) && path.StartsWithSegments("/api/v1/events")
            ? Bucket("ingest:" + caller.KeyId, options.IngestPerSecond, options.IngestBurst)
            : Bucket("api:" + caller.KeyId, options.ApiPerSecond, options.ApiBurst);
    }

    private static RateLimitPartition<string> Bucket(string key, int perSecond, int burst) =>
        RateLimitPartition.GetTokenBucketLimiter(key, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = Math.Max(1, burst),
            TokensPerPeriod = Math.Max(1, perSecond),
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        });
}
