namespace Metering.Host.Telemetry;

/// <summary>
/// Puts the account id of an account route into the logging scope, so every log line of the request
/// (next to its TraceId and SpanId) says which account it was about.
/// </summary>
public sealed class AccountLogScope(ILogger<AccountLogScope> log) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (context.HttpContext.GetRouteValue("accountId") is not string accountId) return await next(context);
        using (log.BeginScope(new Dictionary<string, object> { ["AccountId"] = accountId }))
            return await next(context);
    }
}
