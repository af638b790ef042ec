using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Metering.Host;
using Metering.Ingestion.Kafka;
using Metering.Tests.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Metering.Ui.Tests;

/// <summary>
/// Draws docs/screenshots/dashboard.png: the shipped dashboard over a real engine's scrapes while the
/// demo stream runs, with a dead letter, a webhook that refuses, and accounts that go idle and wake.
/// </summary>
public sealed class DashboardPreviewTests : IAsyncLifetime
{
    private const string AdminKey = "dashboard-preview-key";
    private static readonly TimeSpan ScrapeEvery = TimeSpan.FromSeconds(2);
    private const int Scrapes = 24;

    private readonly string _dataDir = Directory.CreateTempSubdirectory("metering-dashboard-").FullName;
    private WebApplication? _app;

    [Fact]
    public async Task The_shipped_dashboard_drawn_from_real_scrapes_has_data_in_every_panel()
    {
        _app = MeteringApp.Build(
        [
            "--urls=http://127.0.0.1:0",
            $"--Metering:DataDir={_dataDir}",
            $"--Metering:Auth:AdminKey={AdminKey}",
            "--Metering:Demo:Enabled=true",
            "--Metering:Demo:UsageInterval=00:00:00.250",
            "--Metering:Accounts:PassivateAfter=00:00:03",
            "--Logging:LogLevel:Default=Warning",
            // The refusing webhook listens on loopback over http.
            "--Metering:Notifications:AllowPrivateWebhooks=true",
            "--Metering:Notifications:AllowHttpWebhooks=true",
            .. TestPersistence.HostArgs(_dataDir),
        ]);
        await _app.StartAsync();
        var baseUrl = _app.Urls.First();
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        await Eventually.TrueAsync(async () => (await http.GetAsync("/health/ready")).IsSuccessStatusCode, TimeSpan.FromSeconds(60), "the engine never became ready");

        // A webhook that answers 404, so notifications fail on one channel and reach the other.
        (await http.PutAsJsonAsync("/api/v1/accounts/acct-hook/preferences", new
        {
            billingInfo = new { name = "Hook" },
            notifications = new
            {
                renewalReminderDays = 7, invoiceDueReminderDays = 3, channels = new[] { "kafka", "webhook" },
                webhookUrl = baseUrl + "/no-such-webhook", webhookSecret = "whsec_0123456789abcdef",
            },
        })).EnsureSuccessStatusCode();
        (await http.PostAsJsonAsync("/api/v1/accounts/acct-hook/subscriptions", new { planId = "starter" })).EnsureSuccessStatusCode();

        var producer = _app.Services.GetRequiredService<MeteringProducer>();
        var topic = _app.Services.GetRequiredService<KafkaOptions>().UsageTopic;
        var instance = new Uri(baseUrl).Authority;
        var history = new List<DashboardPreview.Scrape>();
        for (var i = 0; i < Scrapes; i++)
        {
            // Now and then: records no parser accepts, and accounts that are used once, go idle and are woken later.
            if (i % 6 == 1) await producer.ProduceAsync(topic, "acct-broken", "not json"u8.ToArray());
            if (i % 8 == 0) await PostEventAsync(http, $"acct-idle-{i % 16}", i);
            if (i == 4) await RechargeAsync(http, "acct-hook");
            // Another plan: its invoice's notification reaches Kafka and is refused by the webhook.
            if (i == 8) (await http.PostAsJsonAsync("/api/v1/accounts/acct-hook/subscriptions", new { planId = "starter" })).EnsureSuccessStatusCode();
            var text = await http.GetStringAsync("/metrics");
            history.Add(DashboardPreview.Labelled(DateTimeOffset.UtcNow, PrometheusScrape.Parse(text), instance));
            await Task.Delay(ScrapeEvery);
        }

        var root = BillingPageFixture.RepositoryRoot();
        var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "deploy/grafana/dashboards/metering.json"))).RootElement;
        var panels = DashboardPreview.Evaluate(dashboard, history);
        var seconds = (history[^1].At - history[0].At).TotalSeconds;
        var caption = $"Rendered from the shipped dashboard JSON (deploy/grafana/dashboards/metering.json) and {history.Count} real /metrics scrapes " +
            $"of one engine over {seconds:0} s of the demo stream, not by Grafana: Grafana would show its default 6 hours.";
        var html = DashboardPreview.Html(dashboard.GetProperty("title").GetString()!, panels, caption);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = BillingPageFixture.ChromiumPath,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1600, Height = 900 } });
        await page.SetContentAsync(html);
        var file = Path.Combine(root, "docs", "screenshots", "dashboard.png");
        await page.ScreenshotAsync(new() { Path = file, FullPage = true });
        Assert.True(new FileInfo(file).Length > 20_000, $"{file} looks empty");

        var empty = panels.Where(p => p.Type != "row" && p.Series.All(s => s.Points.Count == 0)).Select(p => p.Title).ToList();
        Assert.True(empty.Count == 0, $"panels without data: {string.Join(", ", empty)}");
    }

    /// <summary>A card and auto-recharge over the balance: one recharge at once.</summary>
    private static async Task RechargeAsync(HttpClient http, string account)
    {
        (await http.PostAsJsonAsync($"/api/v1/accounts/{account}/payment-methods", new
        {
            type = "card", number = "4242424242424242", expMonth = 12, expYear = 2031, cvc = "123", holderName = "Ada Lovelace", makeDefault = true,
        })).EnsureSuccessStatusCode();
        (await http.PutAsJsonAsync($"/api/v1/accounts/{account}/auto-recharge", new { enabled = true, threshold = 50m, amount = 20m })).EnsureSuccessStatusCode();
    }

    private static async Task PostEventAsync(HttpClient http, string account, int n)
    {
        using var content = new StringContent(JsonSerializer.Serialize(new
        {
            specversion = "1.0", id = $"{account}-{n}", source = "crm/preview", type = "crm.email.sent", subject = account, data = new { quantity = 1 },
        }));
        content.Headers.ContentType = new MediaTypeHeaderValue("application/cloudevents+json");
        (await http.PostAsync("/api/v1/events", content)).EnsureSuccessStatusCode();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        TestPersistence.Release(_dataDir);
        try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { }
    }
}
