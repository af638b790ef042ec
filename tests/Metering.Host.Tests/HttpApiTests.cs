using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Metering.Ingestion.Kafka;
using Metering.Tests.Shared;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace Metering.Host.Tests;

/// <summary>The engine on its embedded default (own broker, SQLite), driven over HTTP and by kcat.</summary>
public sealed class HttpApiTests : IAsyncLifetime
{
    private readonly TempDir _data = new();
    private MeteringHost _host = null!;

    public async Task InitializeAsync() => _host = await MeteringHost.StartAsync(_data.Path);

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _data.Dispose();
    }

    private static StringContent CloudEvents(string json, string mediaType = "application/cloudevents+json") =>
        new(json, Encoding.UTF8, mediaType);

    private static string Event(string id, string subject, string type = "crm.lead.created", string data = "{\"quantity\":1}") =>
        $$"""{"specversion":"1.0","id":"{{id}}","source":"crm/web","type":"{{type}}","subject":"{{subject}}","time":"2026-11-27T10:00:00Z","data":{{data}}}""";

    private async Task<JsonElement> WaitForUsageAsync(string account, string meter, decimal expected)
    {
        JsonElement overview = default;
        await Eventually.TrueAsync(async () =>
        {
            overview = await _host.OverviewAsync(account);
            return overview.GetProperty("usage").GetProperty(meter).GetDecimal() == expected;
        }, TimeSpan.FromSeconds(10), $"{account} never reached {expected} {meter}");
        return overview;
    }

    [Fact]
    public async Task The_embedded_default_reports_its_broker_and_database()
    {
        var system = await _host.Http.GetFromJsonAsync<JsonElement>("/api/v1/system");
        Assert.True(system.GetProperty("kafka").GetProperty("embedded").GetBoolean());
        Assert.StartsWith("127.0.0.1:", system.GetProperty("kafka").GetProperty("bootstrapServers").GetString());
        Assert.Equal("metering.usage", system.GetProperty("kafka").GetProperty("usageTopic").GetString());
        // The provider of this pass: test.sh runs the host tests on SQLite and again on PostgreSQL.
        Assert.Equal(TestPersistence.Postgres ? "postgres" : "sqlite", system.GetProperty("persistence").GetProperty("provider").GetString());
        Assert.Equal(!TestPersistence.Postgres, File.Exists(Path.Combine(_data.Path, "metering.db")));

        var ready = await _host.Http.GetFromJsonAsync<JsonElement>("/health/ready");
        Assert.Equal("Healthy", ready.GetProperty("status").GetString());
        Assert.Equal(3, ready.GetProperty("checks").EnumerateObject().Count());
        Assert.Equal(HttpStatusCode.OK, (await _host.Http.GetAsync("/health/live")).StatusCode);
    }

    [Fact]
    public async Task A_posted_event_and_a_posted_batch_show_up_in_the_overview()
    {
        var single = await _host.Http.PostAsync("/api/v1/events", CloudEvents(Event("h-1", "acct-http")));
        Assert.Equal(HttpStatusCode.Accepted, single.StatusCode);

        var batch = $"[{Event("h-2", "acct-http", "crm.call.completed", "{\"quantity\":1,\"durationSeconds\":183}")},{Event("h-3", "acct-http", "crm.email.sent", "{\"quantity\":40}")}]";
        var response = await _host.Http.PostAsync("/api/v1/events", CloudEvents(batch, "application/cloudevents-batch+json"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        Assert.Equal(2, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accepted").GetInt32());

        // A retry of the same event (same source and id) is accepted by HTTP and counted once.
        Assert.Equal(HttpStatusCode.Accepted, (await _host.Http.PostAsync("/api/v1/events", CloudEvents(Event("h-1", "acct-http")))).StatusCode);

        var overview = await WaitForUsageAsync("acct-http", "email", 40);
        Assert.Equal(1m, overview.GetProperty("usage").GetProperty("lead").GetDecimal());
        Assert.Equal(1m, overview.GetProperty("usage").GetProperty("call").GetDecimal());
        await Eventually.TrueAsync(async () => (await _host.OverviewAsync("acct-http")).GetProperty("duplicatesDropped").GetInt64() == 1,
            TimeSpan.FromSeconds(10), "the retry was not seen as a duplicate");
        overview = await _host.OverviewAsync("acct-http");
        Assert.Equal(3, overview.GetProperty("eventsProcessed").GetInt64());
        Assert.Equal("USD", overview.GetProperty("currency").GetString());
        Assert.Equal(0m, overview.GetProperty("balance").GetDecimal());
    }

    [Fact]
    public async Task A_batch_with_one_invalid_event_is_refused_whole_with_a_list_of_errors()
    {
        var batch = $"[{Event("b-1", "acct-batch")},{Event("b-2", "acct-batch", "crm.unknown")},{Event("b-3", "acct-batch", data: "{\"quantity\":-2}")},{Event("b-1", "acct-batch")}]";
        var response = await _host.Http.PostAsync("/api/v1/events", CloudEvents(batch, "application/cloudevents-batch+json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var errors = problem.GetProperty("errors").EnumerateArray().Select(e => (e.GetProperty("index").GetInt32(), e.GetProperty("code").GetString())).ToArray();
        Assert.Equal([(1, "unknown_type"), (2, "invalid_quantity"), (3, "duplicate_in_batch")], errors);

        // Nothing of the batch went in: a valid event sent after it is the only one counted.
        await _host.Http.PostAsync("/api/v1/events", CloudEvents(Event("b-9", "acct-batch", "crm.email.sent")));
        var overview = await WaitForUsageAsync("acct-batch", "email", 1);
        Assert.Equal(0m, overview.GetProperty("usage").GetProperty("lead").GetDecimal());
    }

    [Theory]
    [InlineData("text/plain", "{}", HttpStatusCode.UnsupportedMediaType)]
    [InlineData("application/cloudevents+json", "{not json", HttpStatusCode.BadRequest)]
    [InlineData("application/cloudevents+json", "[]", HttpStatusCode.BadRequest)]
    [InlineData("application/cloudevents-batch+json", "[]", HttpStatusCode.BadRequest)]
    public async Task Bad_requests_get_problem_details(string mediaType, string body, HttpStatusCode expected)
    {
        var response = await _host.Http.PostAsync("/api/v1/events", new StringContent(body, Encoding.UTF8, mediaType));
        Assert.Equal(expected, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
    }

    [Fact]
    public async Task The_api_wants_the_key_and_validates_account_ids()
    {
        using var anonymous = new HttpClient { BaseAddress = _host.Http.BaseAddress };
        var response = await anonymous.GetAsync("/api/v1/accounts/acct-1/overview");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);

        Assert.Equal(HttpStatusCode.BadRequest, (await _host.Http.GetAsync("/api/v1/accounts/bad%20id/overview")).StatusCode);

        var fresh = await _host.OverviewAsync("acct-never-seen");
        Assert.Equal(0, fresh.GetProperty("eventsProcessed").GetInt64());
        Assert.Equal(0m, fresh.GetProperty("usage").GetProperty("lead").GetDecimal());
        Assert.Equal(0m, fresh.GetProperty("pendingBalance").GetDecimal());
    }

    [Fact]
    public async Task The_api_is_described_by_an_openapi_document_and_a_reference_page()
    {
        var json = await _host.Http.GetByteArrayAsync("/openapi/v1.json");
        // The OpenAPI library's own reader and rule set: the document is OpenAPI 3 and breaks no rule.
        var read = OpenApiDocument.Load(new MemoryStream(json), "json");
        Assert.NotNull(read.Document);
        Assert.Empty(read.Diagnostic?.Errors ?? []);
        Assert.StartsWith("3.", JsonDocument.Parse(json).RootElement.GetProperty("openapi").GetString());
        Assert.Empty(read.Document.Validate(ValidationRuleSet.GetDefaultRuleSet()) ?? []);

        // Every public endpoint the app maps under /api/v1, with each of its methods, is described.
        var described = read.Document.Paths.SelectMany(p => (p.Value.Operations ?? []).Keys.Select(m => $"{m.Method.ToUpperInvariant()} {p.Key}")).ToHashSet();
        var mapped = _host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.RoutePattern.RawText?.TrimStart('/').StartsWith("api/v1/", StringComparison.Ordinal) == true)
            .SelectMany(e => (e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["GET"]).Select(m => $"{m} /{e.RoutePattern.RawText!.Trim('/')}"))
            .ToList();
        Assert.True(mapped.Count > 30, $"only {mapped.Count} endpoints mapped");
        Assert.All(mapped, endpoint => Assert.Contains(endpoint, described));

        var page = await _host.Http.GetAsync("/scalar/v1");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Kcat_produces_straight_to_the_embedded_broker_which_frees_the_record_once_counted()
    {
        var system = await _host.Http.GetFromJsonAsync<JsonElement>("/api/v1/system");
        var bootstrap = system.GetProperty("kafka").GetProperty("bootstrapServers").GetString()!;

        var start = new ProcessStartInfo("kcat", ["-P", "-b", bootstrap, "-t", "metering.usage", "-K", "|"])
        {
            RedirectStandardInput = true,
            RedirectStandardError = true,
        };
        using var kcat = Process.Start(start)!;
        await kcat.StandardInput.WriteLineAsync("acct-kcat|" + Event("k-1", "acct-kcat", "crm.call.completed", "{\"quantity\":2}"));
        kcat.StandardInput.Close();
        await kcat.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        Assert.True(kcat.ExitCode == 0, await kcat.StandardError.ReadToEndAsync());

        await WaitForUsageAsync("acct-kcat", "call", 2);

        // Counted means committed: the broker no longer holds the record in memory.
        var logs = await TestBackends.UsageFreedAsync(bootstrap, _host.Services.GetRequiredService<KafkaEndpoint>().UsagePartitions,
            TimeSpan.FromSeconds(10), "the usage topic still holds records the engine committed");
        Assert.True(logs.Sum(w => w.Low.Value) >= 1, "the kcat record was never in the topic");
    }
}
