using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Metering.Host;
using Metering.Tests.Shared;
using Metering.Ui;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Playwright;

namespace Metering.Ui.Tests;

/// <summary>
/// One real engine (Kestrel on a free loopback port, embedded broker, SQLite in a temp folder) with
/// the demo accounts seeded, and Debian's Chromium driven by Playwright. No browser is downloaded:
/// without /usr/bin/chromium the tests fail, they do not skip. The engine runs on a clock that starts
/// <see cref="HistoryDays"/> days ago and is moved a day at a time while the demo accounts use the CRM,
/// so they have daily usage history and a closed billing period (usage counts on the day the engine
/// recorded it); it ends at the real now and then stands still.
/// </summary>
public sealed class BillingPageFixture : IAsyncLifetime
{
    public const string AdminKey = "ui-test-admin-key";
    public const string ChromiumPath = "/usr/bin/chromium";
    public const int HistoryDays = 40;

    private readonly string _dataDir = Directory.CreateTempSubdirectory("metering-ui-test-").FullName;
    private WebApplication? _app;
    private IPlaywright? _playwright;

    public FakeTimeProvider Clock { get; } = new(DateTimeOffset.FromUnixTimeSeconds(DateTimeOffset.UtcNow.ToUnixTimeSeconds()).AddDays(-HistoryDays));
    public IBrowser Browser { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;
    public string BaseUrl { get; private set; } = "";

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
            throw new InvalidOperationException($"{ChromiumPath} is missing: install Debian's chromium (apt-get install -y chromium); test.sh does.");

        _app = MeteringApp.Build(
        [
            "--urls=http://127.0.0.1:0",
            $"--Metering:DataDir={_dataDir}",
            $"--Metering:Auth:AdminKey={AdminKey}",
            "--Metering:Demo:Enabled=true",
            // No live demo usage: the numbers the tests read stay still.
            "--Metering:Demo:UsageInterval=00:00:00",
            "--Logging:LogLevel:Default=Warning",
            .. TestPersistence.HostArgs(_dataDir),
        ], builder => builder.Services.AddSingleton<TimeProvider>(Clock));
        await _app.StartAsync();
        BaseUrl = _app.Urls.First();
        Http = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(30) };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        await WaitForDemoAsync();
        await UseForDaysAsync();
        await CaughtUpAsync();

        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new()
        {
            ExecutablePath = ChromiumPath,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    /// <summary>Every demo account has its plans, funds and seed usage counted.</summary>
    private async Task WaitForDemoAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        foreach (var account in DemoSeeder.Accounts)
        {
            while (true)
            {
                var o = await OverviewAsync(account.Id);
                if (o.GetProperty("eventsProcessed").GetInt64() > 0 && o.GetProperty("activePlans").GetArrayLength() == account.Plans.Length) break;
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"demo account {account.Id} was never seeded: {o}");
                await Task.Delay(200);
            }
        }
    }

    private readonly Dictionary<string, string> _accountKeys = [];

    /// <summary>An account key (account:read and account:write) for the account, made once through the admin API.</summary>
    public async Task<string> AccountKeyAsync(string accountId)
    {
        if (_accountKeys.TryGetValue(accountId, out var key)) return key;
        var created = await PostAsync("/api/v1/keys", new { name = "ui-test", scopes = new[] { "account:read", "account:write" }, accountId });
        return _accountKeys[accountId] = created.GetProperty("secret").GetString()!;
    }

    /// <summary>A day of each demo account's usage per day of <see cref="HistoryDays"/>, each counted before the clock moves on.</summary>
    private async Task UseForDaysAsync()
    {
        for (var day = 0; day < HistoryDays; day++)
        {
            Clock.Advance(TimeSpan.FromDays(1));
            var expected = new Dictionary<string, long>();
            foreach (var account in DemoSeeder.Accounts)
            {
                var events = DemoSeeder.DayOfUsage(account, "ui-history", day, HistoryDays, Clock.GetUtcNow());
                expected[account.Id] = (await OverviewAsync(account.Id)).GetProperty("eventsProcessed").GetInt64() + events.Count;
                await DemoSeeder.PostEvents(Http, events, CancellationToken.None);
            }
            var deadline = DateTime.UtcNow.AddSeconds(30);
            foreach (var (account, count) in expected)
            {
                while ((await OverviewAsync(account)).GetProperty("eventsProcessed").GetInt64() < count)
                {
                    if (DateTime.UtcNow > deadline) throw new TimeoutException($"{account} never counted day {day} of its history");
                    await Task.Delay(50);
                }
            }
        }
    }

    /// <summary>The read side (usage series, lists) has every journal event: the page reads what the accounts counted.</summary>
    public async Task CaughtUpAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(await GetAsync("/api/v1/projections")).EnumerateArray().All(p => p.GetProperty("lagMilliseconds").GetInt64() == 0))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the projections never caught up with the journal");
            await Task.Delay(100);
        }
    }

    public Task<JsonElement> OverviewAsync(string accountId) => GetAsync($"/api/v1/accounts/{accountId}/overview");

    public async Task<JsonElement> GetAsync(string path) => await Http.GetFromJsonAsync<JsonElement>(path);

    public async Task<JsonElement> PostAsync(string path, object body)
    {
        using var response = await Http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"POST {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>
    /// A fresh page at the given size and language, on the account's billing page, loaded (signed in
    /// with an account key through the page's own sign-in, unless <paramref name="withKey"/> is false).
    /// </summary>
    public async Task<IPage> OpenAsync(string accountId, int width = 1280, int height = 900, string locale = "en-US", bool withKey = true)
    {
        var context = await Browser.NewContextAsync(new()
        {
            ViewportSize = new() { Width = width, Height = height },
            Locale = locale,
            AcceptDownloads = true,
        });
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, e) => errors.Add(e);
        // A 404 from an endpoint this server does not offer yet is expected (the section shows an empty state).
        page.Console += (_, m) => { if (m.Type == "error" && !m.Text.StartsWith("Failed to load resource")) errors.Add(m.Text); };
        await page.GotoAsync($"{BaseUrl}/accounts/{accountId}/billing{(withKey ? $"#key={await AccountKeyAsync(accountId)}" : "")}");
        try
        {
            if (withKey) await WaitReadyAsync(page);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"the page never loaded; status: '{await page.Locator("#status").TextContentAsync()}'; errors: {string.Join(" | ", errors)}", e);
        }
        Assert.Empty(errors);
        return page;
    }

    public static Task WaitReadyAsync(IPage page) => page.WaitForSelectorAsync("body[data-ready=true]", new() { Timeout = 30_000 });

    /// <summary>The repository root (where Metering.sln is), for the screenshots in docs/.</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Metering.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("Metering.sln not found above " + AppContext.BaseDirectory);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null) await Browser.CloseAsync();
        _playwright?.Dispose();
        Http?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        TestPersistence.Release(_dataDir);
        try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { }
    }
}

[CollectionDefinition(Name)]
public sealed class BillingPageCollection : ICollectionFixture<BillingPageFixture>
{
    public const string Name = "billing page";
}
