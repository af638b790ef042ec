using System.Security.Cryptography;
using System.Text;

namespace Metering.Host.Auth;

/// <summary>What a key may do. <see cref="Admin"/> may do everything; <see cref="AccountWrite"/> includes reading.</summary>
public static class ApiScopes
{
    public const string Admin = "admin";
    public const string AccountRead = "account:read";
    public const string AccountWrite = "account:write";
    public const string Ingest = "ingest";

    public static IReadOnlyList<string> All { get; } = [Admin, AccountRead, AccountWrite, Ingest];
}

/// <summary>Who called: a key (by its bearer secret or through a page session).</summary>
/// <param name="KeyId">Partitions rate limits and names the key in logs; never the secret.</param>
/// <param name="AccountId">The one account an account-scoped key may touch; null: every account its scopes allow.</param>
/// <param name="CsrfToken">Set for session callers: writes must echo it in <see cref="ApiCaller.CsrfHeader"/>.</param>
public sealed record ApiCaller(string KeyId, IReadOnlyList<string> Scopes, string? AccountId, string? CsrfToken = null)
{
    public const string CsrfHeader = "X-CSRF-Token";

    public bool ViaSession => CsrfToken is not null;

    public bool Has(string scope) =>
        Scopes.Contains(ApiScopes.Admin) || Scopes.Contains(scope) || (scope == ApiScopes.AccountRead && Scopes.Contains(ApiScopes.AccountWrite));

    /// <summary>Compared in constant time; false for callers without a session.</summary>
    public bool CsrfMatches(string presented) =>
        CsrfToken is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(CsrfToken));

    /// <summary>An admin or a key without an account may reach any account its scopes allow.</summary>
    public bool MayTouch(string accountId) => Scopes.Contains(ApiScopes.Admin) || AccountId is null || AccountId == accountId;
}
