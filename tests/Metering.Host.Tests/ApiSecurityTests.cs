using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Metering.Host.Auth;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Metering.Host.Tests;

/// <summary>Keys, scopes, tenant isolation and page sessions against a running engine.</summary>
public sealed partial class ApiSecurityTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    private MeteringHost Host => fixture.Host;

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    private static async Task<JsonElement> ProblemAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static StringContent Event(string id, string subject) => new(
        $$$"""{"specversion":"1.0","id":"{{{id}}}","source":"crm/test","type":"crm.lead.created","subject":"{{{subject}}}","data":{"quantity":1}}""",
        Encoding.UTF8, "application/cloudevents+json");

    /// <summary>Every endpoint of the app (the data source the router uses), under <c>/api/v1</c>, with its methods.</summary>
    private IEnumerable<(RouteEndpoint Endpoint, string Method)> ApiEndpoints() =>
        Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.TrimStart('/').StartsWith("api/v1/", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => (e, m)));

    /// <summary>The endpoint's path with the account (and any other route value) filled in.</summary>
    private static string PathOf(RouteEndpoint endpoint, string accountId) =>
        RouteParameter().Replace(endpoint.RoutePattern.RawText!, m => m.Groups[1].Value == "accountId" ? accountId : "x-1");

    private async Task<HttpResponseMessage> CallAsync(HttpClient client, string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method is "POST" or "PUT" or "PATCH") request.Content = Json(new { });
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task An_account_key_reaches_only_its_own_account_on_every_account_endpoint()
    {
        var (_, readWrite) = await Host.CreateKeyAsync("iso-own", ApiScopes.AccountRead, ApiScopes.AccountWrite);
        var (_, readOnly) = await Host.CreateKeyAsync("iso-own", ApiScopes.AccountRead);
        var (_, ingest) = await Host.CreateKeyAsync("iso-own", ApiScopes.Ingest);
        var accountEndpoints = ApiEndpoints().Where(e => e.Endpoint.RoutePattern.GetParameter("accountId") is not null).ToList();
        // Every account route of the app is here, so one added later is checked without editing this test.
        Assert.True(accountEndpoints.Count >= 18, $"only {accountEndpoints.Count} account endpoints found");

        foreach (var key in new[] { readWrite, readOnly, ingest })
        {
            using var client = Host.ClientWith(key);
            foreach (var (endpoint, method) in accountEndpoints)
            {
                using var response = await CallAsync(client, method, PathOf(endpoint, "iso-other"));
                Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{method} {PathOf(endpoint, "iso-other")}: {(int)response.StatusCode}");
                Assert.Equal("not_found", (await ProblemAsync(response)).GetProperty("code").GetString());
            }
        }

        // The same key is accepted on its own account: the 404s above are isolation, not broken routes.
        using var own = Host.ClientWith(readWrite);
        foreach (var (endpoint, method) in accountEndpoints.Where(e => e.Method == "GET" && e.Endpoint.RoutePattern.Parameters.Count == 1))
        {
            using var response = await CallAsync(own, method, PathOf(endpoint, "iso-own"));
            Assert.True(response.StatusCode is not (HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden or HttpStatusCode.NotFound),
                $"{method} {PathOf(endpoint, "iso-own")}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task Endpoints_outside_an_account_are_for_admins_unless_they_say_otherwise()
    {
        var (_, account) = await Host.CreateKeyAsync("adm-own", ApiScopes.AccountRead, ApiScopes.AccountWrite);
        var (_, ingest) = await Host.CreateKeyAsync(null, ApiScopes.Ingest);
        var adminOnly = ApiEndpoints()
            .Where(e => e.Endpoint.RoutePattern.GetParameter("accountId") is null && e.Endpoint.Metadata.GetMetadata<RequiresScope>() is null)
            .ToList();
        Assert.Contains(adminOnly, e => e.Endpoint.RoutePattern.RawText!.Contains("/keys"));
        foreach (var key in new[] { account, ingest })
        {
            using var client = Host.ClientWith(key);
            foreach (var (endpoint, method) in adminOnly)
            {
                using var response = await CallAsync(client, method, PathOf(endpoint, "adm-own"));
                Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{method} {endpoint.RoutePattern.RawText}: {(int)response.StatusCode}");
            }
        }
        using var anonymous = new HttpClient { BaseAddress = Host.Http.BaseAddress };
        foreach (var (endpoint, method) in ApiEndpoints())
        {
            using var response = await CallAsync(anonymous, method, PathOf(endpoint, "adm-own"));
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"anonymous {method} {endpoint.RoutePattern.RawText}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task A_read_key_cannot_write_and_an_account_key_cannot_ingest()
    {
        var (_, reader) = await Host.CreateKeyAsync("ro-acct", ApiScopes.AccountRead);
        using var client = Host.ClientWith(reader);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/accounts/ro-acct/overview")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/plans")).StatusCode);
        var write = await client.PutAsync("/api/v1/accounts/ro-acct/auto-recharge", Json(new { enabled = false, threshold = 0, amount = 0 }));
        Assert.Equal(HttpStatusCode.Forbidden, write.StatusCode);
        Assert.Equal("forbidden", (await ProblemAsync(write)).GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync("/api/v1/events", Event("ro-1", "ro-acct"))).StatusCode);
    }

    [Fact]
    public async Task An_ingest_key_of_one_account_produces_only_that_accounts_usage()
    {
        var (_, key) = await Host.CreateKeyAsync("ing-acct", ApiScopes.Ingest);
        using var client = Host.ClientWith(key);
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync("/api/v1/events", Event("ing-1", "ing-acct"))).StatusCode);

        var other = await client.PostAsync("/api/v1/events", Event("ing-2", "ing-other"));
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        var problem = await ProblemAsync(other);
        Assert.Equal("subject_not_allowed", problem.GetProperty("errors")[0].GetProperty("code").GetString());

        // A batch with one foreign event is refused whole.
        var batch = new StringContent(
            """[{"specversion":"1.0","id":"ing-3","source":"crm/test","type":"crm.lead.created","subject":"ing-acct"},{"specversion":"1.0","id":"ing-4","source":"crm/test","type":"crm.lead.created","subject":"ing-other"}]""",
            Encoding.UTF8, "application/cloudevents-batch+json");
        Assert.Equal(HttpStatusCode.Forbidden, (await client.PostAsync("/api/v1/events", batch)).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/api/v1/accounts/ing-acct/overview")).StatusCode);

        await Eventually.TrueAsync(async () => (await Host.OverviewAsync("ing-acct")).GetProperty("eventsProcessed").GetInt64() == 1,
            TimeSpan.FromSeconds(15), "the allowed event was not counted");
        Assert.Equal(0, (await Host.OverviewAsync("ing-other")).GetProperty("eventsProcessed").GetInt64());
    }

    [Fact]
    public async Task Keys_are_shown_once_listed_without_secrets_and_fail_at_once_when_revoked()
    {
        var created = await Host.SendAsync(HttpMethod.Post, "/api/v1/keys",
            new { name = "billing page", scopes = new[] { ApiScopes.AccountRead, ApiScopes.AccountWrite }, accountId = "rev-acct" }, HttpStatusCode.Created);
        var id = created.GetProperty("id").GetString()!;
        var secret = created.GetProperty("secret").GetString()!;
        Assert.StartsWith("mk_", secret);
        Assert.True(secret.Length >= 64);

        var listed = await Host.Http.GetStringAsync("/api/v1/keys");
        Assert.Contains(id, listed);
        Assert.DoesNotContain(secret, listed);
        Assert.DoesNotContain(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret))), listed, StringComparison.OrdinalIgnoreCase);
        var mine = JsonDocument.Parse(listed).RootElement.EnumerateArray().Single(k => k.GetProperty("id").GetString() == id);
        Assert.Equal(["id", "name", "scopes", "accountId", "createdAt", "revokedAt"], mine.EnumerateObject().Select(p => p.Name));

        using var client = Host.ClientWith(secret);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/accounts/rev-acct/overview")).StatusCode);
        using var browser = await SignedInAsync(secret);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/api/v1/accounts/rev-acct/overview")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await Host.Http.DeleteAsync($"/api/v1/keys/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/accounts/rev-acct/overview")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync("/api/v1/accounts/rev-acct/overview")).StatusCode);
        var revoked = JsonDocument.Parse(await Host.Http.GetStringAsync("/api/v1/keys")).RootElement.EnumerateArray().Single(k => k.GetProperty("id").GetString() == id);
        Assert.NotEqual(JsonValueKind.Null, revoked.GetProperty("revokedAt").ValueKind);
        Assert.Equal(HttpStatusCode.NotFound, (await Host.Http.DeleteAsync("/api/v1/keys/key_0000000000000000")).StatusCode);

        // A key that only looks like one: right shape, wrong secret.
        using var forged = Host.ClientWith(secret[..^4] + "0000");
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.GetAsync("/api/v1/accounts/rev-acct/overview")).StatusCode);
    }

    [Theory]
    [InlineData("""{"name":"x","scopes":["root"]}""", "scopes")]
    [InlineData("""{"name":"x","scopes":[]}""", "scopes")]
    [InlineData("""{"name":"x","scopes":["admin"],"accountId":"acct-1"}""", "accountId")]
    [InlineData("""{"name":"x","scopes":["account:read"],"accountId":"acct 1<script>"}""", "accountId")]
    [InlineData("""{"name":"bad\u0000name","scopes":["ingest"]}""", "name")]
    [InlineData("""{"scopes":["ingest"]}""", "name")]
    public async Task Key_requests_are_validated(string body, string field)
    {
        var response = await Host.Http.PostAsync("/api/v1/keys", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains((await ProblemAsync(response)).GetProperty("errors").EnumerateArray(), e => e.GetProperty("field").GetString() == field);
    }

    /// <summary>A browser-like client: cookies kept, signed in at <c>POST /session</c> with the key.</summary>
    private async Task<HttpClient> SignedInAsync(string key)
    {
        var client = new HttpClient(new HttpClientHandler { CookieContainer = new CookieContainer() }) { BaseAddress = Host.Http.BaseAddress };
        var response = await client.PostAsync("/session", Json(new { key }));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return client;
    }

    [Fact]
    public async Task A_page_session_is_an_httponly_strict_cookie_and_its_writes_need_the_csrf_token()
    {
        var (_, key) = await Host.CreateKeyAsync("sess-acct", ApiScopes.AccountRead, ApiScopes.AccountWrite);
        using var plain = new HttpClient { BaseAddress = Host.Http.BaseAddress };
        Assert.Equal(HttpStatusCode.Forbidden, (await plain.PostAsync("/session", Json(new { key = MeteringHost.AdminKey }))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await plain.PostAsync("/session", Json(new { key = "mk_nope" }))).StatusCode);
        var (_, ingest) = await Host.CreateKeyAsync("sess-acct", ApiScopes.Ingest);
        Assert.Equal(HttpStatusCode.Forbidden, (await plain.PostAsync("/session", Json(new { key = ingest }))).StatusCode);

        var opened = await plain.PostAsync("/session", Json(new { key }));
        Assert.Equal(HttpStatusCode.OK, opened.StatusCode);
        var cookie = opened.Headers.GetValues("Set-Cookie").Single();
        Assert.StartsWith(ApiAuthentication.SessionCookie + "=", cookie);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(key, cookie);
        Assert.DoesNotContain(key, await opened.Content.ReadAsStringAsync());

        using var browser = await SignedInAsync(key);
        var session = await browser.GetFromJsonAsync<JsonElement>("/session");
        Assert.Equal("sess-acct", session.GetProperty("accountId").GetString());
        var csrf = session.GetProperty("csrfToken").GetString()!;

        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("/api/v1/accounts/sess-acct/overview")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("/api/v1/accounts/sess-other/overview")).StatusCode);
        var preferences = new { billingInfo = new { name = "Sess" }, notifications = new { renewalReminderDays = 7, invoiceDueReminderDays = 3, channels = new[] { "kafka" } } };
        var forged = await browser.PutAsync("/api/v1/accounts/sess-acct/preferences", Json(preferences));
        Assert.Equal(HttpStatusCode.Forbidden, forged.StatusCode);
        Assert.Equal("csrf", (await ProblemAsync(forged)).GetProperty("code").GetString());

        using var withToken = new HttpRequestMessage(HttpMethod.Put, "/api/v1/accounts/sess-acct/preferences") { Content = Json(preferences) };
        withToken.Headers.Add(ApiCaller.CsrfHeader, csrf);
        Assert.Equal(HttpStatusCode.OK, (await browser.SendAsync(withToken)).StatusCode);

        Assert.Equal(HttpStatusCode.Forbidden, (await browser.DeleteAsync("/session")).StatusCode);
        using var signOut = new HttpRequestMessage(HttpMethod.Delete, "/session");
        signOut.Headers.Add(ApiCaller.CsrfHeader, csrf);
        Assert.Equal(HttpStatusCode.NoContent, (await browser.SendAsync(signOut)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync("/api/v1/accounts/sess-acct/overview")).StatusCode);
    }

    [GeneratedRegex(@"\{(\w+)(?::[^}]*)?\??\}")]
    private static partial Regex RouteParameter();
}
