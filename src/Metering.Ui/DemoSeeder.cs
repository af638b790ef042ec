using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Metering.Ui;

/// <summary>
/// Seeds the demo accounts through the engine's own HTTP API once the host is ready, then (unless
/// <see cref="DemoOptions.UsageInterval"/> is zero) sends a little usage now and then so the page lives.
/// Every step is idempotent across restarts: a card only when the account has none, plans only when
/// it has no active one, funds with a fixed idempotency key, the seed usage only into an account that counted
/// nothing yet (and with fixed event ids, so a crash halfway is deduplicated). Each demo account gets
/// an account-scoped key named <see cref="KeyName"/> (once), which the page's demo sign-in uses; its
/// secret is thrown away: nobody needs it.
/// </summary>
public sealed class DemoSeeder(IServiceProvider services, DemoOptions options, string apiKey) : BackgroundService
{
    public sealed record DemoPlan(string PlanId, string? Team);
    /// <param name="Users">Who in the CRM made the usage (the event's <c>data.user</c>), so usage can be broken down by user.</param>
    public sealed record DemoAccount(string Id, string Holder, decimal Funds, DemoPlan[] Plans, decimal? RechargeThreshold, decimal RechargeAmount,
        IReadOnlyDictionary<string, int> Usage, string[] Teams, string[] Users);

    public static IReadOnlyList<DemoAccount> Accounts { get; } =
    [
        new("demo-acme", "Acme Corp", 300m, [new("pro", null), new("calls-pack", "sales")], 50m, 100m,
            new Dictionary<string, int> { ["lead"] = 3_200, ["call"] = 2_600, ["email"] = 12_500 }, ["sales", "support"], ["ana", "ben", "carla"]),
        new("demo-globex", "Globex", 40m, [new("starter", null)], null, 0m,
            new Dictionary<string, int> { ["lead"] = 620, ["call"] = 150, ["email"] = 1_800 }, ["sales"], ["dana", "eli"]),
        new("demo-initech", "Initech", 500m, [new("agency", null), new("email-pack", "marketing")], 100m, 200m,
            new Dictionary<string, int> { ["lead"] = 4_000, ["call"] = 1_200, ["email"] = 30_000 }, ["sales", "marketing"], ["femi", "gus", "hana"]),
    ];

    private static readonly Dictionary<string, string> EventTypes = new() { ["lead"] = "crm.lead.created", ["call"] = "crm.call.completed", ["email"] = "crm.email.sent" };
    public const int SeedDays = 14;
    public const string KeyName = "demo-page";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
        var log = services.GetRequiredService<ILogger<DemoSeeder>>();
        var time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        if (!await Started(lifetime, stoppingToken)) return;

        using var http = new HttpClient { BaseAddress = SelfAddress(), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        try
        {
            await WaitReady(http, stoppingToken);
            foreach (var account in Accounts)
                await SeedAsync(http, account, time.GetUtcNow(), stoppingToken);
            log.LogInformation("Demo accounts ready: {Accounts}", string.Join(", ", Accounts.Select(a => a.Id)));

            if (options.UsageInterval <= TimeSpan.Zero) return;
            var random = new Random();
            using var timer = new PeriodicTimer(options.UsageInterval, time);
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var account in Accounts)
                {
                    var events = account.Usage.Keys.Select(meter => Event(account, meter, $"demo-live-{Guid.NewGuid():N}", random.Next(1, 6),
                        time.GetUtcNow(), account.Teams[random.Next(account.Teams.Length)], account.Users[random.Next(account.Users.Length)])).ToArray();
                    await PostEvents(http, events, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // Demo data is a convenience: the engine keeps running without it.
            log.LogWarning(e, "Demo data could not be seeded");
        }
    }

    private static async Task SeedAsync(HttpClient http, DemoAccount account, DateTimeOffset now, CancellationToken ct)
    {
        var keys = await Get(http, "/api/v1/keys", ct);
        if (!keys.EnumerateArray().Any(k => k.GetProperty("name").GetString() == KeyName && k.GetProperty("accountId").GetString() == account.Id
                                            && k.GetProperty("revokedAt").ValueKind == JsonValueKind.Null))
            await Send(http, HttpMethod.Post, "/api/v1/keys", new { name = KeyName, scopes = new[] { "account:read", "account:write" }, accountId = account.Id }, ct);

        var path = $"/api/v1/accounts/{account.Id}";
        var cards = await Get(http, $"{path}/payment-methods", ct);
        string cardId;
        if (cards.GetArrayLength() == 0)
        {
            var card = await Send(http, HttpMethod.Post, $"{path}/payment-methods",
                new { type = "card", number = "4242424242424242", expMonth = 12, expYear = now.Year + 3, cvc = "123", holderName = account.Holder, makeDefault = true }, ct);
            cardId = card.GetProperty("id").GetString()!;
        }
        else cardId = cards[0].GetProperty("id").GetString()!;

        await Send(http, HttpMethod.Post, $"{path}/funds", new { amount = account.Funds, paymentMethodId = cardId, idempotencyKey = $"demo-seed-{account.Id}-funds" }, ct);

        // The overview, not the subscription list: the account answers it, while lists trail it on the read side.
        var overview = await Get(http, $"{path}/overview", ct);
        if (overview.GetProperty("activePlans").GetArrayLength() == 0)
            foreach (var plan in account.Plans)
                await Send(http, HttpMethod.Post, $"{path}/subscriptions", new { planId = plan.PlanId, team = plan.Team }, ct);

        if (account.RechargeThreshold is { } threshold)
            await Send(http, HttpMethod.Put, $"{path}/auto-recharge", new { enabled = true, threshold, amount = account.RechargeAmount, paymentMethodId = cardId }, ct);

        if (overview.GetProperty("eventsProcessed").GetInt64() == 0)
        {
            // The cycle's usage as it happened over the last two weeks (the event times), sent at once.
            var events = Enumerable.Range(0, SeedDays).SelectMany(day =>
                DayOfUsage(account, "demo-seed", day, SeedDays, new DateTimeOffset(now.UtcDateTime.Date.AddDays(day - SeedDays + 1).AddHours(9 + day % 8), TimeSpan.Zero))).ToArray();
            await PostEvents(http, events, ct);
        }
    }

    /// <summary>
    /// Day <paramref name="day"/> (0-based) of <paramref name="days"/> of the account's usage: each meter's
    /// <see cref="DemoAccount.Usage"/> spread over the days, growing a little day by day (the last day
    /// takes the rounding rest), from one team and one user in turn. Ids are fixed by prefix, day and
    /// meter, so sending a day again is deduplicated.
    /// </summary>
    public static IReadOnlyList<object> DayOfUsage(DemoAccount account, string idPrefix, int day, int days, DateTimeOffset at)
    {
        var weights = Enumerable.Range(0, days).Select(d => 10 + d).ToArray();
        var events = new List<object>();
        foreach (var (meter, total) in account.Usage)
        {
            var before = weights.Take(day).Sum(w => total * w / weights.Sum());
            var quantity = day == days - 1 ? total - before : total * weights[day] / weights.Sum();
            if (quantity <= 0) continue;
            events.Add(Event(account, meter, $"{idPrefix}-{account.Id}-{meter}-{day}", quantity, at,
                account.Teams[day % account.Teams.Length], account.Users[(day + meter.Length) % account.Users.Length]));
        }
        return events;
    }

    private static object Event(DemoAccount account, string meter, string id, int quantity, DateTimeOffset at, string team, string user) => new Dictionary<string, object>
    {
        ["specversion"] = "1.0",
        ["id"] = id,
        ["source"] = "demo/seed",
        ["type"] = EventTypes[meter],
        ["subject"] = account.Id,
        ["time"] = at.ToString("O"),
        ["team"] = team,
        ["data"] = new { quantity, user },
    };

    public static async Task PostEvents(HttpClient http, IReadOnlyList<object> events, CancellationToken ct)
    {
        using var content = new StringContent(JsonSerializer.Serialize(events), Encoding.UTF8, "application/cloudevents-batch+json");
        using var response = await http.PostAsync("/api/v1/events", content, ct);
        await EnsureSuccess(response, ct);
    }

    private static async Task<JsonElement> Get(HttpClient http, string path, CancellationToken ct)
    {
        using var response = await http.GetAsync(path, ct);
        await EnsureSuccess(response, ct);
        return await response.Content.ReadFromJsonAsync<JsonElement>(ct);
    }

    private static async Task<JsonElement> Send(HttpClient http, HttpMethod method, string path, object body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path) { Content = JsonContent.Create(body) };
        using var response = await http.SendAsync(request, ct);
        await EnsureSuccess(response, ct);
        return await response.Content.ReadFromJsonAsync<JsonElement>(ct);
    }

    private static async Task EnsureSuccess(HttpResponseMessage response, CancellationToken ct)
    {
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.AbsolutePath}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(ct)}",
                null, response.StatusCode);
    }

    private static async Task WaitReady(HttpClient http, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            try
            {
                using var response = await http.GetAsync("/health/ready", ct);
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException("The engine never became ready.");
            await Task.Delay(250, ct);
        }
    }

    private static async Task<bool> Started(IHostApplicationLifetime lifetime, CancellationToken ct)
    {
        var started = new TaskCompletionSource();
        using var a = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        using var b = ct.Register(() => started.TrySetCanceled());
        try { await started.Task; return true; }
        catch (OperationCanceledException) { return false; }
    }

    /// <summary>The first address Kestrel bound, with a wildcard host made loopback.</summary>
    private Uri SelfAddress()
    {
        var address = services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The server has no address.");
        var uri = new UriBuilder(address.Replace("://+", "://127.0.0.1").Replace("://*", "://127.0.0.1").Replace("://0.0.0.0", "://127.0.0.1").Replace("://[::]", "://127.0.0.1"));
        if (uri.Host == "localhost") uri.Host = "127.0.0.1";
        return uri.Uri;
    }
}
