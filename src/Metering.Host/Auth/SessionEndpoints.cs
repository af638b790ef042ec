using Metering.Ui;

namespace Metering.Host.Auth;

/// <summary>
/// The billing page's sign-in: <c>POST /session {key}</c> exchanges an account-scoped key for an
/// HttpOnly, SameSite=Strict cookie (the page never keeps the key); <c>GET /session</c> tells the page
/// whose session it holds and its CSRF token; <c>DELETE /session</c> signs out. Admin and
/// account-less keys cannot open sessions: a browser cookie should never carry more than one account.
/// </summary>
public static class SessionEndpoints
{
    public const string Path = "/session";

    public sealed record SignIn(string? Key);
    public sealed record SessionView(string AccountId, IReadOnlyList<string> Scopes, string CsrfToken, DateTimeOffset ExpiresAt);

    public static WebApplication MapSessionEndpoints(this WebApplication app)
    {
        app.MapPost(Path, OpenAsync).WithName("OpenSession");
        app.MapGet(Path, async (HttpContext http, ApiKeyStore keys) =>
        {
            http.Response.Headers.CacheControl = "no-store";
            return http.Request.Cookies.TryGetValue(ApiAuthentication.SessionCookie, out var token) && !string.IsNullOrEmpty(token)
                   && await keys.SessionAsync(token, http.RequestAborted) is { } session && session.Caller.AccountId is { } accountId
                ? Results.Ok(new SessionView(accountId, session.Caller.Scopes, session.Caller.CsrfToken!, session.ExpiresAt))
                : NoSession();
        }).WithName("GetSession");
        app.MapDelete(Path, async (HttpContext http, ApiKeyStore keys) =>
        {
            // Signing out is a write: a cross-site page must not be able to end the session either.
            if (ApiAuthentication.CallerOf(http) is not { ViaSession: true } caller) return NoSession();
            if (!caller.CsrfMatches(http.Request.Headers[ApiCaller.CsrfHeader].ToString()))
                return Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Missing CSRF token", extensions: new Dictionary<string, object?> { ["code"] = "csrf" });
            await keys.CloseSessionAsync(http.Request.Cookies[ApiAuthentication.SessionCookie]!, http.RequestAborted);
            http.Response.Cookies.Delete(ApiAuthentication.SessionCookie, CookieOptions(http, DateTimeOffset.UnixEpoch));
            return Results.NoContent();
        }).WithName("CloseSession");
        return app;
    }

    private static async Task<IResult> OpenAsync(SignIn request, HttpContext http, AdminKey admin, ApiKeyStore keys)
    {
        http.Response.Headers.CacheControl = "no-store";
        var key = request.Key?.Trim();
        if (string.IsNullOrEmpty(key)) return NoSession();
        if (admin.Matches(key)) return AccountKeysOnly();
        if (await keys.AuthenticateAsync(key, http.RequestAborted) is not { } caller) return NoSession();
        if (caller.AccountId is null || !caller.Has(ApiScopes.AccountRead)) return AccountKeysOnly();
        var session = await keys.OpenSessionAsync(caller.KeyId, caller.Scopes, caller.AccountId, http.RequestAborted);
        SetCookie(http, session);
        return Results.Ok(new SessionView(session.AccountId, session.Scopes, session.CsrfToken, session.ExpiresAt));
    }

    /// <summary>Signs the browser in as a demo account with the key the demo seeder made for it (only when the demo is on).</summary>
    public static async Task SignInDemoAsync(HttpContext http, string accountId)
    {
        var keys = http.RequestServices.GetRequiredService<ApiKeyStore>();
        if (http.Request.Cookies.TryGetValue(ApiAuthentication.SessionCookie, out var token) && !string.IsNullOrEmpty(token)
            && await keys.SessionAsync(token, http.RequestAborted) is { } existing && existing.Caller.AccountId == accountId)
            return;
        if (await keys.FindActiveAsync(DemoSeeder.KeyName, accountId, http.RequestAborted) is not { } key) return;
        SetCookie(http, await keys.OpenSessionAsync(key.Id, key.Scopes, accountId, http.RequestAborted));
    }

    private static void SetCookie(HttpContext http, PageSession session) =>
        http.Response.Cookies.Append(ApiAuthentication.SessionCookie, session.Token, CookieOptions(http, session.ExpiresAt));

    private static CookieOptions CookieOptions(HttpContext http, DateTimeOffset expires) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = http.Request.IsHttps,
        Path = "/",
        Expires = expires,
        IsEssential = true,
    };

    private static IResult NoSession() =>
        Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Not signed in", detail: "Sign in with an account's API key.",
            extensions: new Dictionary<string, object?> { ["code"] = "unauthorized" });

    private static IResult AccountKeysOnly() =>
        Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Sign in with an account key",
            detail: "The page opens sessions only for keys of one account with the account:read or account:write scope; admins create them at POST /api/v1/keys.",
            extensions: new Dictionary<string, object?> { ["code"] = "account_key_required" });
}
