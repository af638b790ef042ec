namespace Metering.Host.Auth;

/// <summary>
/// Works out who calls the API (<c>/api/*</c> and <c>/session</c>) before routing decides anything
/// else, so the rate limiter can count per key: <c>Authorization: Bearer &lt;key&gt;</c> first (the
/// admin key, then the key table), else the page's session cookie. It refuses nothing itself: an
/// unknown caller is anonymous, and <see cref="ApiAccessFilter"/> answers 401 where a key is needed.
/// </summary>
public sealed class ApiAuthentication(RequestDelegate next, AdminKey adminKey, ApiKeyStore keys)
{
    public const string SessionCookie = "metering_session";
    private static readonly object CallerKey = new();

    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path;
        if (path.StartsWithSegments("/api") || path.StartsWithSegments(SessionEndpoints.Path))
            context.Items[CallerKey] = await IdentifyAsync(context);
        await next(context);
    }

    public static ApiCaller? CallerOf(HttpContext context) => context.Items.TryGetValue(CallerKey, out var caller) ? caller as ApiCaller : null;

    private async Task<ApiCaller?> IdentifyAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        if (header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            var presented = header[scheme.Length..].Trim();
            return adminKey.Matches(presented)
                ? new ApiCaller(AdminKey.Id, [ApiScopes.Admin], null)
                : await keys.AuthenticateAsync(presented, context.RequestAborted);
        }
        return context.Request.Cookies.TryGetValue(SessionCookie, out var token) && !string.IsNullOrEmpty(token)
            ? (await keys.SessionAsync(token, context.RequestAborted))?.Caller
            : null;
    }
}
