using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Metering.Accounts.Persistence;

namespace Metering.Host.Auth;

/// <summary>A key as listed: never its secret or hash.</summary>
public sealed record ApiKeyInfo(string Id, string Name, IReadOnlyList<string> Scopes, string? AccountId, DateTimeOffset CreatedAt, DateTimeOffset? RevokedAt);

/// <summary>A page session: the cookie value, the CSRF token the page echoes on writes, and when it ends.</summary>
public sealed record PageSession(string Token, string CsrfToken, string AccountId, IReadOnlyList<string> Scopes, DateTimeOffset ExpiresAt);

/// <summary>
/// API keys and page sessions in two tables of the journal database. Only SHA-256 hashes of the
/// secrets are stored: a key's secret is 256 random bits, so a hash is as good as a slow KDF and
/// lets every request be checked with one indexed read. Nothing is cached, so a revoked key (and
/// every session opened with it) fails at once on every node.
/// </summary>
public sealed class ApiKeyStore(JournalDatabase database, TimeProvider time)
{
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(12);
    private const string SecretPrefix = "mk_";
    private const int IdHexLength = 16;
    private const int SecretHexLength = 64;

    private readonly SemaphoreSlim _schemaLock = new(1, 1);
    private volatile bool _schemaReady;

    /// <summary>Creates a key; the secret is in the answer and nowhere else.</summary>
    public async Task<(ApiKeyInfo Key, string Secret)> CreateAsync(string name, IReadOnlyList<string> scopes, string? accountId, CancellationToken ct)
    {
        var idHex = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(IdHexLength / 2));
        var secret = $"{SecretPrefix}{idHex}_{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(SecretHexLength / 2))}";
        var key = new ApiKeyInfo("key_" + idHex, name, scopes, accountId, Now(), null);
        await ExecuteAsync("""
            INSERT INTO metering_api_keys (id, name, scopes, account_id, secret_hash, created_at, revoked_at)
            VALUES (@id, @name, @scopes, @account, @hash, @created, NULL)
            """, ct, ("id", key.Id), ("name", name), ("scopes", string.Join(' ', scopes)), ("account", accountId), ("hash", Hash(secret)),
            ("created", key.CreatedAt.ToUnixTimeMilliseconds()));
        return (key, secret);
    }

    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(CancellationToken ct) =>
        await QueryAsync("SELECT id, name, scopes, account_id, created_at, revoked_at FROM metering_api_keys ORDER BY created_at, id", ct, ReadKey);

    /// <summary>The newest active key with this name for this account, for the demo page's sign-in.</summary>
    public async Task<ApiKeyInfo?> FindActiveAsync(string name, string accountId, CancellationToken ct) =>
        (await QueryAsync("""
            SELECT id, name, scopes, account_id, created_at, revoked_at FROM metering_api_keys
            WHERE name = @name AND account_id = @account AND revoked_at IS NULL ORDER BY created_at DESC
            """, ct, ReadKey, ("name", name), ("account", accountId))).FirstOrDefault();

    /// <summary>False when there is no such key; revoking twice keeps the first time.</summary>
    public async Task<bool> RevokeAsync(string id, CancellationToken ct)
    {
        await ExecuteAsync("UPDATE metering_api_keys SET revoked_at = @now WHERE id = @id AND revoked_at IS NULL", ct,
            ("now", Now().ToUnixTimeMilliseconds()), ("id", id));
        await ExecuteAsync("DELETE FROM metering_sessions WHERE key_id = @id", ct, ("id", id));
        return (await QueryAsync("SELECT id FROM metering_api_keys WHERE id = @id", ct, r => r.GetString(0), ("id", id))).Count > 0;
    }

    /// <summary>The caller a bearer secret stands for, or null. The hash is compared in constant time.</summary>
    public async Task<ApiCaller?> AuthenticateAsync(string secret, CancellationToken ct)
    {
        if (secret.Length != SecretPrefix.Length + IdHexLength + 1 + SecretHexLength || !secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
            return null;
        var id = "key_" + secret.Substring(SecretPrefix.Length, IdHexLength);
        var rows = await QueryAsync("SELECT secret_hash, scopes, account_id FROM metering_api_keys WHERE id = @id AND revoked_at IS NULL", ct,
            r => (Hash: r.GetString(0), Scopes: r.GetString(1), Account: r.IsDBNull(2) ? null : r.GetString(2)), ("id", id));
        if (rows.Count == 0) return null;
        var row = rows[0];
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(row.Hash), Encoding.ASCII.GetBytes(Hash(secret)))
            ? new ApiCaller(id, SplitScopes(row.Scopes), row.Account)
            : null;
    }

    /// <summary>Opens a session for an account-scoped key; the token is stored only as its hash.</summary>
    public async Task<PageSession> OpenSessionAsync(string keyId, IReadOnlyList<string> scopes, string accountId, CancellationToken ct)
    {
        var token = Base64Url(RandomNumberGenerator.GetBytes(32));
        var expires = Now() + SessionLifetime;
        await ExecuteAsync("DELETE FROM metering_sessions WHERE expires_at <= @now", ct, ("now", Now().ToUnixTimeMilliseconds()));
        await ExecuteAsync("INSERT INTO metering_sessions (token_hash, key_id, expires_at) VALUES (@hash, @key, @expires)", ct,
            ("hash", Hash(token)), ("key", keyId), ("expires", expires.ToUnixTimeMilliseconds()));
        return new PageSession(token, CsrfFor(token), accountId, scopes, expires);
    }

    /// <summary>The caller behind a session cookie, or null when it is unknown, expired or its key was revoked.</summary>
    public async Task<(ApiCaller Caller, DateTimeOffset ExpiresAt)?> SessionAsync(string token, CancellationToken ct)
    {
        var rows = await QueryAsync("""
            SELECT k.id, k.scopes, k.account_id, s.expires_at FROM metering_sessions s JOIN metering_api_keys k ON k.id = s.key_id
            WHERE s.token_hash = @hash AND s.expires_at > @now AND k.revoked_at IS NULL
            """, ct, r => (Id: r.GetString(0), Scopes: r.GetString(1), Account: r.IsDBNull(2) ? null : r.GetString(2), Expires: r.GetInt64(3)),
            ("hash", Hash(token)), ("now", Now().ToUnixTimeMilliseconds()));
        if (rows.Count == 0) return null;
        var row = rows[0];
        return (new ApiCaller(row.Id, SplitScopes(row.Scopes), row.Account, CsrfFor(token)), DateTimeOffset.FromUnixTimeMilliseconds(row.Expires));
    }

    public Task CloseSessionAsync(string token, CancellationToken ct) =>
        ExecuteAsync("DELETE FROM metering_sessions WHERE token_hash = @hash", ct, ("hash", Hash(token)));

    /// <summary>Derived from the HttpOnly token, so only the page that holds the session (and may read <c>GET /session</c>) knows it.</summary>
    private static string CsrfFor(string token) => Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes("csrf:" + token)));

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string[] SplitScopes(string scopes) => scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static ApiKeyInfo ReadKey(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), SplitScopes(r.GetString(2)), r.IsDBNull(3) ? null : r.GetString(3),
        DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(4)), r.IsDBNull(5) ? null : DateTimeOffset.FromUnixTimeMilliseconds(r.GetInt64(5)));

    private DateTimeOffset Now() => time.GetUtcNow();

    private async Task ExecuteAsync(string sql, CancellationToken ct, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = JournalDatabase.Command(connection, null, sql, parameters);
        await command.ExecuteNonQueryAsync(ct);
    }

    private async Task<List<T>> QueryAsync<T>(string sql, CancellationToken ct, Func<DbDataReader, T> read, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(ct);
        await using var command = JournalDatabase.Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<T>();
        while (await reader.ReadAsync(ct)) rows.Add(read(reader));
        return rows;
    }

    /// <summary>A connection to a database that has the tables (created on first use, so a database still starting does not stop the host).</summary>
    private async Task<DbConnection> OpenAsync(CancellationToken ct)
    {
        if (!_schemaReady) await EnsureSchemaAsync(ct);
        return await database.OpenAsync(ct);
    }

    private async Task EnsureSchemaAsync(CancellationToken ct)
    {
        await _schemaLock.WaitAsync(ct);
        try
        {
            if (_schemaReady) return;
            await using var connection = await database.OpenAsync(ct);
            await using var command = JournalDatabase.Command(connection, null, """
                CREATE TABLE IF NOT EXISTS metering_api_keys (
                    id VARCHAR(40) PRIMARY KEY, name VARCHAR(100) NOT NULL, scopes VARCHAR(200) NOT NULL, account_id VARCHAR(64) NULL,
                    secret_hash VARCHAR(64) NOT NULL, created_at BIGINT NOT NULL, revoked_at BIGINT NULL);
                CREATE TABLE IF NOT EXISTS metering_sessions (
                    token_hash VARCHAR(64) PRIMARY KEY, key_id VARCHAR(40) NOT NULL, expires_at BIGINT NOT NULL);
                CREATE INDEX IF NOT EXISTS metering_sessions_key ON metering_sessions (key_id);
                """, []);
            await command.ExecuteNonQueryAsync(ct);
            _schemaReady = true;
        }
        finally
        {
            _schemaLock.Release();
        }
    }
}
