using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Metering.Host;
using Metering.Tests.Shared;
using Microsoft.AspNetCore.Builder;

namespace Metering.Host.Tests;

/// <summary>
/// A real engine host on loopback: Kestrel on a free port, Akka cluster of one, SQLite in a temp
/// folder (or a PostgreSQL database of that folder's own, see <see cref="TestPersistence"/>), and
/// either its own embedded broker or the Kafka the test names.
/// </summary>
public sealed class MeteringHost : IAsyncDisposable
{
    public const string AdminKey = "test-admin-key";

    private readonly WebApplication _app;

    private MeteringHost(WebApplication app, HttpClient http)
    {
        _app = app;
        Http = http;
    }

    public HttpClient Http { get; }
    public IServiceProvider Services => _app.Services;

    /// <summary>
    /// Tests call the API as fast as they can (every account of a stream, every route): the rate limits
    /// are lifted unless a test sets its own (later arguments win).
    /// </summary>
    public static readonly string[] UnlimitedRates =
    [
        "--Metering:RateLimits:ApiPerSecond=1000000", "--Metering:RateLimits:ApiBurst=1000000",
        "--Metering:RateLimits:IngestPerSecond=1000000", "--Metering:RateLimits:IngestBurst=1000000",
        "--Metering:RateLimits:AnonymousPerSecond=1000000", "--Metering:RateLimits:AnonymousBurst=1000000",
    ];

    public static Task<MeteringHost> StartAsync(string dataDir, string? bootstrapServers = null, string consumerGroup = "metering", params string[] extra) =>
        StartAsync(dataDir, bootstrapServers, consumerGroup, configure: null, extra);

    public static async Task<MeteringHost> StartAsync(string dataDir, string? bootstrapServers, string consumerGroup, Action<WebApplicationBuilder>? configure, params string[] extra)
    {
        string[] args =
        [
            "--urls=http://127.0.0.1:0",
            $"--Metering:DataDir={dataDir}",
            $"--Metering:Auth:AdminKey={AdminKey}",
            $"--Metering:Kafka:ConsumerGroup={consumerGroup}",
            "--Logging:LogLevel:Default=Warning",
            // The demo accounts of the embedded default would add usage these tests do not expect.
            "--Metering:Demo:Enabled=false",
            // A broker of the test's own outlives its hosts, so a restarted host rejoins the group its
            // predecessor left; after the last member leaves, the embedded broker lets the next one in
            // only after the session timeout less a second (Kafka itself at once): 44 s by default.
            .. bootstrapServers is null ? Array.Empty<string>() : [$"--Metering:Kafka:BootstrapServers={bootstrapServers}", "--Metering:Kafka:SessionTimeout=00:00:06"],
            // A test that names its provider keeps it; the others run on the one test.sh's pass chose.
            .. extra.Any(a => a.StartsWith("--Metering:Persistence:Provider=", StringComparison.Ordinal)) ? [] : TestPersistence.HostArgs(dataDir),
            .. UnlimitedRates,
            .. extra,
        ];
        var app = MeteringApp.Build(args, configure);
        await app.StartAsync();
        var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        var host = new MeteringHost(app, http);
        await Eventually.TrueAsync(async () => (await http.GetAsync("/health/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "host never became ready");
        return host;
    }

    public Task<JsonElement> OverviewAsync(string accountId) => Http.OverviewAsync(accountId);

    public Task<JsonElement> SendAsync(HttpMethod method, string path, object? body = null, HttpStatusCode expected = HttpStatusCode.OK) =>
        Http.SendJsonAsync(method, path, body, expected);

    /// <summary>Creates a key through the admin API and answers its secret (shown this once).</summary>
    public async Task<(string Id, string Secret)> CreateKeyAsync(string? accountId, params string[] scopes)
    {
        var created = await SendAsync(HttpMethod.Post, "/api/v1/keys", new { name = "test", scopes, accountId }, HttpStatusCode.Created);
        return (created.GetProperty("id").GetString()!, created.GetProperty("secret").GetString()!);
    }

    /// <summary>A client of this host that sends <paramref name="key"/> as its bearer key.</summary>
    public HttpClient ClientWith(string key)
    {
        var client = new HttpClient { BaseAddress = Http.BaseAddress, Timeout = Http.Timeout };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>GETs <paramref name="path"/> until <paramref name="until"/> holds: lists are read from projections, which trail the journal a little.</summary>
    public async Task<JsonElement> GetEventuallyAsync(string path, Func<JsonElement, bool> until)
    {
        JsonElement answer = default;
        await Eventually.TrueAsync(async () => until(answer = await SendAsync(HttpMethod.Get, path)), TimeSpan.FromSeconds(30), $"GET {path} never answered what the test expects");
        return answer;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

public static class EngineHttp
{
    /// <summary>GET <c>/api/v1/accounts/{id}/overview</c> from any engine, in-process or not.</summary>
    public static Task<JsonElement> OverviewAsync(this HttpClient engine, string accountId) =>
        engine.GetJsonAsync($"/api/v1/accounts/{accountId}/overview");

    /// <summary>GET <paramref name="path"/> as JSON, failing on any non-success status.</summary>
    public static async Task<JsonElement> GetJsonAsync(this HttpClient engine, string path)
    {
        var response = await engine.GetAsync(path);
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>
    /// Waits until every projection reports lag 0: the read side polls the journal (about a second
    /// each for the newest ordering and the next read), so lists trail what the accounts answer.
    /// </summary>
    public static Task ProjectionsCaughtUpAsync(this HttpClient engine, TimeSpan timeout) =>
        Eventually.TrueAsync(async () => (await engine.GetJsonAsync("/api/v1/projections")).EnumerateArray()
            .All(p => p.GetProperty("lagMilliseconds").GetInt64() == 0), timeout, "projections never caught up");

    /// <summary>PUTs a monthly plan without a fee whose meters have a quota and a per-unit price beyond it.</summary>
    public static Task PutPerUnitPlanAsync(this HttpClient engine, string planId, string name, IReadOnlyDictionary<string, (int Included, decimal UnitPrice)> pricing) =>
        engine.SendJsonAsync(HttpMethod.Put, $"/api/v1/plans/{planId}", new
        {
            id = planId,
            name,
            currency = "USD",
            fee = 0m,
            interval = "month",
            quotas = pricing.ToDictionary(p => p.Key, p => p.Value.Included),
            overage = pricing.ToDictionary(p => p.Key, p => new { model = "per_unit", unitPrice = p.Value.UnitPrice }),
        }, HttpStatusCode.Created);

    /// <summary>Sends <paramref name="body"/> as JSON and asserts the status; answers the JSON body, if any.</summary>
    public static async Task<JsonElement> SendJsonAsync(this HttpClient engine, HttpMethod method, string path, object? body = null, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await engine.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }
}

/// <summary>A folder under /tmp removed with the test, with the PostgreSQL database an engine may have had for it.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("metering-test-").FullName;

    public void Dispose()
    {
        TestPersistence.Release(Path);
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
