using Metering.Tests.Shared;
using Metering.Accounts.Persistence;
using Metering.Host.Auth;

namespace Metering.Host.Tests;

/// <summary>The key and session tables speak both journal databases with the same SQL.</summary>
public sealed class ApiKeyStoreTests
{
    [Theory]
    [InlineData("sqlite")]
    [InlineData("postgres")]
    public async Task Keys_and_sessions_round_trip_and_revocation_ends_both(string provider)
    {
        using var data = new TempDir();
        await using var postgres = provider == "postgres" ? await TestPostgresDatabase.CreateAsync() : null;
        var database = postgres is null ? JournalDatabase.Sqlite(data.Path) : JournalDatabase.Postgres(postgres.ConnectionString);
        var store = new ApiKeyStore(database, TimeProvider.System);

        var (key, secret) = await store.CreateAsync("page", [ApiScopes.AccountRead, ApiScopes.AccountWrite], "acct-s", CancellationToken.None);
        var caller = await store.AuthenticateAsync(secret, CancellationToken.None);
        Assert.Equal(new[] { ApiScopes.AccountRead, ApiScopes.AccountWrite }, caller!.Scopes);
        Assert.Equal(("acct-s", key.Id), (caller.AccountId, caller.KeyId));
        Assert.Null(await store.AuthenticateAsync(secret[..^1] + (secret[^1] == '0' ? '1' : '0'), CancellationToken.None));
        Assert.Equal(key.Id, (await store.FindActiveAsync("page", "acct-s", CancellationToken.None))?.Id);

        var session = await store.OpenSessionAsync(key.Id, key.Scopes, "acct-s", CancellationToken.None);
        Assert.Equal(session.CsrfToken, (await store.SessionAsync(session.Token, CancellationToken.None))?.Caller.CsrfToken);

        Assert.True(await store.RevokeAsync(key.Id, CancellationToken.None));
        Assert.Null(await store.AuthenticateAsync(secret, CancellationToken.None));
        Assert.Null(await store.SessionAsync(session.Token, CancellationToken.None));
        Assert.NotNull((await store.ListAsync(CancellationToken.None)).Single().RevokedAt);
        Assert.False(await store.RevokeAsync("key_missing", CancellationToken.None));
    }
}
