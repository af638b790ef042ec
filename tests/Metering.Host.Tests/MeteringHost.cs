using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Metering.Host;
using Microsoft.AspNetCore.Builder;

namespace Metering.Host.Tests;

/// <summary>
/// A real engine host on loopback: Kestrel on a free port, Akka cluster of one, SQLite in a temp
/// folder, and either its own embedded broker or the Kafka the test names.
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
            .. bootstrapServers is null ? Array.Empty<string>() : [$"--Metering:Kafka:BootstrapServers={bootstrapServers}"],
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

    public async Task<JsonElement> OverviewAsync(string accountId)
    {
        var response = await Http.GetAsync($"/api/v1/accounts/{accountId}/overview");
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public async Task<JsonElement> SendAsync(HttpMethod method, string path, object? body = null, HttpStatusCode expected = HttpStatusCode.OK)
    {
        using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
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

public static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string because)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException(because);
            await Task.Delay(100);
        }
    }
}

/// <summary>A folder under /tmp removed with the test.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("metering-test-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
