namespace Metering.Host.Auth;

/// <summary>The scope an endpoint needs when the default (see <see cref="ApiAccessFilter"/>) does not fit.</summary>
public sealed record RequiresScope(string Scope);

public static class ApiAccessExtensions
{
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string scope) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RequiresScope(scope));
}

/// <summary>
/// Every <c>/api/v1</c> endpoint: a caller is needed (401), an account-scoped caller reaches only its
/// own account (any other answers 404, exactly as an account that does not exist would, so ids cannot
/// be probed), and the caller needs the endpoint's scope (403). The scope is
/// <see cref="RequiresScope"/> when set, else <c>account:read</c> / <c>account:write</c> for routes
/// with an <c>{accountId}</c> (by method), else <c>admin</c>: a new endpoint is closed until it says
/// otherwise. Writes through a page session must echo its CSRF token in <see cref="ApiCaller.CsrfHeader"/>.
/// </summary>
public sealed class ApiAccessFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (ApiAuthentication.CallerOf(http) is not { } caller)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return Refuse(StatusCodes.Status401Unauthorized, "unauthorized", "Missing or invalid API key",
                "Send 'Authorization: Bearer <key>'. The admin key is printed at start; admins create scoped keys at POST /api/v1/keys.");
        }

        var accountId = http.GetRouteValue("accountId") as string;
        if (accountId is not null && !caller.MayTouch(accountId))
            return Refuse(StatusCodes.Status404NotFound, "not_found", "Not found", null);

        var scope = RequiredScope(http);
        if (!caller.Has(scope))
            return Refuse(StatusCodes.Status403Forbidden, "forbidden", "This key may not do that", $"The endpoint needs the '{scope}' scope.");

        if (caller.ViaSession && !HttpMethods.IsGet(http.Request.Method) && !HttpMethods.IsHead(http.Request.Method)
            && !caller.CsrfMatches(http.Request.Headers[ApiCaller.CsrfHeader].ToString()))
            return Refuse(StatusCodes.Status403Forbidden, "csrf", "Missing CSRF token",
                $"Writes with a session cookie send the session's token in {ApiCaller.CsrfHeader} (GET /session gives it).");

        return next(context);
    }

    private static string RequiredScope(HttpContext http)
    {
        if (http.GetEndpoint()?.Metadata.GetMetadata<RequiresScope>() is { } explicitScope) return explicitScope.Scope;
        if (http.GetRouteValue("accountId") is null) return ApiScopes.Admin;
        return HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method) ? ApiScopes.AccountRead : ApiScopes.AccountWrite;
    }

    private static ValueTask<object?> Refuse(int status, string code, string title, string? detail) =>
        ValueTask.FromResult<object?>(Results.Problem(statusCode: status, title: title, detail: detail,
            extensions: new Dictionary<string, object?> { ["code"] = code }));
}
