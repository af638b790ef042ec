using Metering.Domain.Accounts;

namespace Metering.Host.Auth;

/// <summary>
/// <c>/api/v1/keys</c> (admin): create a scoped key (its secret is answered once and never again),
/// list keys (never a secret or hash), revoke one (it fails at once on every node).
/// </summary>
public static class KeysEndpoints
{
    public const int MaxNameLength = 100;

    public sealed record CreateKeyRequest(string? Name, IReadOnlyList<string>? Scopes, string? AccountId);
    public sealed record CreatedKeyView(string Id, string Name, IReadOnlyList<string> Scopes, string? AccountId, DateTimeOffset CreatedAt, string Secret);

    public static RouteGroupBuilder MapKeysEndpoints(this RouteGroupBuilder api)
    {
        var keys = api.MapGroup("/keys");
        keys.MapPost("", Create).Produces<CreatedKeyView>(StatusCodes.Status201Created).ProducesProblem(StatusCodes.Status400BadRequest).WithName("CreateKey");
        keys.MapGet("", async (ApiKeyStore store, CancellationToken ct) => Results.Ok(await store.ListAsync(ct)))
            .Produces<IReadOnlyList<ApiKeyInfo>>().WithName("ListKeys");
        keys.MapDelete("/{keyId}", async (string keyId, ApiKeyStore store, CancellationToken ct) =>
                await store.RevokeAsync(keyId, ct)
                    ? Results.NoContent()
                    : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: $"No key '{Shown(keyId)}'", extensions: new Dictionary<string, object?> { ["code"] = "not_found" }))
            .ProducesProblem(StatusCodes.Status404NotFound).WithName("RevokeKey");
        return api;
    }

    private static async Task<IResult> Create(CreateKeyRequest request, ApiKeyStore store, CancellationToken ct)
    {
        var errors = Validate(request);
        if (errors.Count > 0)
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid key request", detail: string.Join(" ", errors.Select(e => $"{e.Field}: {e.Message}")),
                extensions: new Dictionary<string, object?> { ["code"] = "invalid_key_request", ["errors"] = errors });
        var scopes = request.Scopes!.Distinct().ToArray();
        var (key, secret) = await store.CreateAsync(request.Name!.Trim(), scopes, request.AccountId, ct);
        return Results.Created($"/api/v1/keys/{key.Id}", new CreatedKeyView(key.Id, key.Name, key.Scopes, key.AccountId, key.CreatedAt, secret));
    }

    public sealed record FieldError(string Field, string Message);

    private static List<FieldError> Validate(CreateKeyRequest request)
    {
        var errors = new List<FieldError>();
        var name = request.Name?.Trim();
        if (string.IsNullOrEmpty(name) || name.Length > MaxNameLength || name.Any(char.IsControl))
            errors.Add(new("name", $"1 to {MaxNameLength} characters, no control characters."));
        if (request.Scopes is not { Count: > 0 } scopes || scopes.Any(s => !ApiScopes.All.Contains(s)))
            errors.Add(new("scopes", $"One or more of: {string.Join(", ", ApiScopes.All)}."));
        else if (scopes.Contains(ApiScopes.Admin) && request.AccountId is not null)
            errors.Add(new("accountId", "An admin key reaches every account; leave accountId out."));
        if (request.AccountId is not null && !AccountId.IsValid(request.AccountId))
            errors.Add(new("accountId", $"An account id is {AccountId.Rule}."));
        return errors;
    }

    /// <summary>An id from the URL echoed back only when it looks like one of ours.</summary>
    private static string Shown(string keyId) => keyId.Length <= 40 && keyId.All(c => char.IsAsciiLetterOrDigit(c) || c == '_') ? keyId : "…";
}
