using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Metering.Host.Tests;

/// <summary>Forecast, plan fit and the balance at past instants through the running engine, on a fake clock.</summary>
public sealed class InsightsApiTests : IAsyncLifetime
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 1, 10, 0, 0, TimeSpan.Zero);
    private readonly TempDir _data = new();
    private readonly FakeTimeProvider _clock = new(T0);
    private MeteringHost _host = null!;
    private static int _ids;

    public async Task InitializeAsync() =>
        _host = await MeteringHost.StartAsync(_data.Path, null, "metering", b => b.Services.AddSingleton<TimeProvider>(_clock));

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _data.Dispose();
    }

    private Task<JsonElement> GetAsync(string path, HttpStatusCode expected = HttpStatusCode.OK) => _host.SendAsync(HttpMethod.Get, path, expected: expected);

    private async Task FundAsync(string account, decimal amount)
    {
        await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/payment-methods",
            new { type = "card", number = "4242424242424242", expMonth = 12, expYear = 2031, cvc = "123", holderName = "Ada" }, HttpStatusCode.Created);
        await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/funds", new { amount, idempotencyKey = $"{account}-seed" });
    }

    private Task SubscribeAsync(string account, string planId) =>
        _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/subscriptions", new { planId }, HttpStatusCode.Created);

    /// <summary>One event per meter carrying the whole quantity; waits until the account counted them.</summary>
    private async Task UseAsync(string account, params (string Type, int Quantity)[] usage)
    {
        var before = (await _host.OverviewAsync(account)).GetProperty("eventsProcessed").GetInt64();
        var events = usage.Select(u => new Dictionary<string, object>
        {
            ["specversion"] = "1.0", ["id"] = $"i-{Interlocked.Increment(ref _ids)}", ["source"] = "crm/test", ["type"] = u.Type,
            ["subject"] = account, ["data"] = new { quantity = u.Quantity },
        });
        var posted = await _host.Http.PostAsync("/api/v1/events",
            new StringContent(JsonSerializer.Serialize(events), Encoding.UTF8, "application/cloudevents-batch+json"));
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        await Eventually.TrueAsync(async () => (await _host.OverviewAsync(account)).GetProperty("eventsProcessed").GetInt64() == before + usage.Length,
            TimeSpan.FromSeconds(15), $"{account} did not count its usage");
    }

    private static string Q(DateTimeOffset at) => Uri.EscapeDataString(at.ToString("O"));

    [Fact]
    public async Task Plan_fit_matches_the_hand_computed_table_and_the_balance_at_each_instant_matches_the_ledger()
    {
        const string account = "acct-fit";
        await FundAsync(account, 1000);                                     // Mar 1 10:00: 1000.00
        _clock.Advance(TimeSpan.FromHours(1));
        await SubscribeAsync(account, "starter");                           // 11:00: fee 19.00 -> 981.00
        _clock.Advance(TimeSpan.FromHours(1));
        await SubscribeAsync(account, "calls-pack");                        // 12:00: fee 15.00 -> 966.00
        _clock.Advance(TimeSpan.FromHours(1));
        await UseAsync(account, ("crm.lead.created", 700), ("crm.call.completed", 1500), ("crm.email.sent", 3000));   // 13:00: overage 42.00 -> 924.00
        _clock.SetUtcNow(new DateTimeOffset(2026, 4, 1, 1, 0, 0, TimeSpan.Zero));
        await UseAsync(account, ("crm.lead.created", 6000), ("crm.call.completed", 300), ("crm.email.sent", 25000)); // renewal -34.00, overage 321.00 -> 569.00
        _clock.SetUtcNow(new DateTimeOffset(2026, 5, 1, 1, 0, 0, TimeSpan.Zero));

        // Three periods asked, two closed since the cycle began on March 1.
        var fit = await GetAsync($"/api/v1/accounts/{account}/insights/plan-fit?periods=3");
        Assert.Equal("USD", fit.GetProperty("currency").GetString());
        var periods = fit.GetProperty("periods").EnumerateArray().ToList();
        Assert.Equal([new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero)],
            periods.Select(p => p.GetProperty("start").GetDateTimeOffset()));
        Assert.Equal(new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero), periods[1].GetProperty("end").GetDateTimeOffset());
        Assert.Equal([(700m, 1500m, 3000m), (6000m, 300m, 25000m)], periods.Select(p => p.GetProperty("usage")).Select(u =>
            (u.GetProperty("lead").GetDecimal(), u.GetProperty("call").GetDecimal(), u.GetProperty("email").GetDecimal())));

        // By hand from the default plans (fee + overage, per period; usage March / April):
        //   lead 700 / 6000, call 1500 / 300, email 3000 / 25000.
        // starter   19 + 200×0.05 + 1300×0.10 + 1000×0.002 = 161.00 | 19 + 5500×0.05 + 100×0.10 + 23000×0.002 = 350.00
        // pro       49 (all within 5000 / 2000 / 20000)      =  49.00 | 49 + 1000×0.03 + 5000×0.0015 (first email tier) = 86.50
        // agency    199, all within                          = 199.00 | 199.00
        // agency-yearly 1990 / 12 = 165.833… -> 165.83 a month, all within its year's quotas
        // email-pack 10 (3000 within 10000)                  =  10.00 | 10 + ceil(15000 / 10000) × 10 = 30.00 (prices no lead or call)
        // calls-pack 15 + ceil(500 / 500) × 7.50             =  22.50 | 15 (300 within 1000) = 15.00 (prices no lead or email)
        // starter + calls-pack (current): 34 + 200×0.05 + (1500 − 1200)×0.10 on starter, the older plan + 1000×0.002 = 76.00
        //                                | 34 + 5500×0.05 + 0 + 23000×0.002 = 355.00
        var expected = new Dictionary<string, (decimal[] Costs, decimal Total, bool Covers)>
        {
            ["agency"] = ([199.00m, 199.00m], 398.00m, true),
            ["agency-yearly"] = ([165.83m, 165.83m], 331.66m, true),
            ["calls-pack"] = ([22.50m, 15.00m], 37.50m, false),
            ["email-pack"] = ([10.00m, 30.00m], 40.00m, false),
            ["pro"] = ([49.00m, 86.50m], 135.50m, true),
            ["starter"] = ([161.00m, 350.00m], 511.00m, true),
            ["starter+calls-pack"] = ([76.00m, 355.00m], 431.00m, true),
        };
        var options = fit.GetProperty("options").EnumerateArray().ToDictionary(
            o => string.Join('+', o.GetProperty("planIds").EnumerateArray().Select(p => p.GetString())),
            o => (o.GetProperty("costs").EnumerateArray().Select(c => c.GetDecimal()).ToArray(), o.GetProperty("total").GetDecimal(), o.GetProperty("coversUsage").GetBoolean()));
        Assert.Equal(expected.Keys.Order(), options.Keys.Order());
        foreach (var (plans, want) in expected)
        {
            Assert.Equal(want.Costs, options[plans].Item1);
            Assert.Equal((want.Total, want.Covers), (options[plans].Item2, options[plans].Item3));
        }
        Assert.Equal("Starter + Calls pack", fit.GetProperty("options").EnumerateArray().Last().GetProperty("label").GetString());
        Assert.Equal(["starter", "calls-pack"], fit.GetProperty("current").GetProperty("planIds").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal(431.00m, fit.GetProperty("current").GetProperty("total").GetDecimal());
        Assert.Equal(["pro"], fit.GetProperty("cheapest").GetProperty("planIds").EnumerateArray().Select(p => p.GetString()));
        Assert.Equal("Pro", fit.GetProperty("cheapest").GetProperty("label").GetString());
        Assert.Equal(135.50m, fit.GetProperty("cheapest").GetProperty("total").GetDecimal());
        Assert.Equal(295.50m, fit.GetProperty("saving").GetDecimal());
        // The engine charged the current plans exactly what the comparison says (plus May's fees, just renewed).
        Assert.Equal(1000m - 431.00m - 34m, (await _host.OverviewAsync(account)).GetProperty("balance").GetDecimal());
        // One period asked: April only.
        var april = await GetAsync($"/api/v1/accounts/{account}/insights/plan-fit?periods=1");
        Assert.Equal(350.00m, april.GetProperty("options").EnumerateArray().Single(o => o.GetProperty("label").GetString() == "Starter").GetProperty("total").GetDecimal());

        // The balance at each ledger entry's moment is the balance after the last entry at that moment
        // (the two renewals share their instant).
        // The ledger list trails the account (it is a projection): wait for all five moments.
        List<JsonElement> ledger = [];
        await Eventually.TrueAsync(async () =>
        {
            ledger = (await GetAsync($"/api/v1/accounts/{account}/ledger")).GetProperty("items").EnumerateArray().Reverse()
                .GroupBy(e => e.GetProperty("at").GetDateTimeOffset()).Select(g => g.Last()).ToList();
            return ledger.Count == 5;
        }, TimeSpan.FromSeconds(15), "the ledger list never caught up with the account");
        foreach (var entry in ledger)
        {
            var at = entry.GetProperty("at").GetDateTimeOffset();
            var balance = await GetAsync($"/api/v1/accounts/{account}/balance?at={Q(at)}");
            Assert.Equal(entry.GetProperty("balanceAfter").GetDecimal(), balance.GetProperty("balance").GetDecimal());
            Assert.Equal(entry.GetProperty("pendingAfter").GetDecimal(), balance.GetProperty("pendingBalance").GetDecimal());
            Assert.Equal(at, balance.GetProperty("at").GetDateTimeOffset());
        }
        // Usage charges are not ledger entries, yet the balance as of then has them.
        var beforeUsage = await GetAsync($"/api/v1/accounts/{account}/balance?at={Q(T0.AddHours(3).AddTicks(-1))}");
        var afterUsage = await GetAsync($"/api/v1/accounts/{account}/balance?at=2026-03-01T13:00:00Z");
        Assert.Equal((966.00m, 924.00m), (beforeUsage.GetProperty("balance").GetDecimal(), afterUsage.GetProperty("balance").GetDecimal()));
        Assert.True(afterUsage.GetProperty("eventsReplayed").GetInt32() > beforeUsage.GetProperty("eventsReplayed").GetInt32());
        var atStart = await GetAsync($"/api/v1/accounts/{account}/balance?at=2026-03-01T09:59:59Z");
        Assert.Equal((0m, 0, "USD"), (atStart.GetProperty("balance").GetDecimal(), atStart.GetProperty("eventsReplayed").GetInt32(), atStart.GetProperty("currency").GetString()));
    }

    [Fact]
    public async Task The_forecast_follows_a_known_burn_and_auto_recharge_and_bad_input_names_its_parameter()
    {
        const string account = "acct-burn";
        await _host.SendAsync(HttpMethod.Put, "/api/v1/plans/t-burn", new
        {
            id = "t-burn", name = "Burn", currency = "USD", fee = 0m, interval = "month",
            quotas = new { lead = 100 }, overage = new { call = new { model = "per_unit", unitPrice = 1m } },
        }, HttpStatusCode.Created);
        await FundAsync(account, 100);
        await SubscribeAsync(account, "t-burn");
        await UseAsync(account, ("crm.call.completed", 14), ("crm.lead.created", 30));
        _clock.Advance(TimeSpan.FromDays(1));
        var now = T0.AddDays(1);

        // 14.00 in the last 7 days is 2.00 a day: 86.00 lasts 43 days. 30 leads in the period's first day, 70 left: 7/3 days.
        var f = await GetAsync($"/api/v1/accounts/{account}/insights/forecast?window=7d");
        Assert.Equal((account, "USD", now, 7), (f.GetProperty("accountId").GetString(), f.GetProperty("currency").GetString(),
            f.GetProperty("asOf").GetDateTimeOffset(), f.GetProperty("windowDays").GetInt32()));
        Assert.Equal((86m, 2.00m), (f.GetProperty("balance").GetDecimal(), f.GetProperty("burnPerDay").GetDecimal()));
        Assert.Equal(now.AddDays(43), f.GetProperty("balanceRunsOutAt").GetDateTimeOffset());
        Assert.False(f.GetProperty("autoRecharge").GetProperty("enabled").GetBoolean());
        Assert.Equal(JsonValueKind.Null, f.GetProperty("autoRecharge").GetProperty("nextAt").ValueKind);
        var quota = Assert.Single(f.GetProperty("quotas").EnumerateArray());
        Assert.Equal(("sub_1", "t-burn", "lead"), (quota.GetProperty("subscriptionId").GetString(), quota.GetProperty("planId").GetString(), quota.GetProperty("meter").GetString()));
        Assert.Equal((100m, 30m, 70m, 30m), (quota.GetProperty("included").GetDecimal(), quota.GetProperty("used").GetDecimal(),
            quota.GetProperty("remaining").GetDecimal(), quota.GetProperty("perDay").GetDecimal()));
        Assert.Equal(now.AddHours(56), quota.GetProperty("runsOutAt").GetDateTimeOffset());
        Assert.Equal(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero), quota.GetProperty("periodEnd").GetDateTimeOffset());
        Assert.Equal(f.GetRawText(), (await GetAsync($"/api/v1/accounts/{account}/insights/forecast")).GetRawText());

        // With auto-recharge under 50.00 the balance never runs out; the recharge fires after (86 − 50) / 2 = 18 days.
        await _host.SendAsync(HttpMethod.Put, $"/api/v1/accounts/{account}/auto-recharge", new { enabled = true, threshold = 50m, amount = 20m });
        var kept = await GetAsync($"/api/v1/accounts/{account}/insights/forecast?window=7");
        Assert.Equal(JsonValueKind.Null, kept.GetProperty("balanceRunsOutAt").ValueKind);
        var recharge = kept.GetProperty("autoRecharge");
        Assert.Equal((true, 50m, 20m), (recharge.GetProperty("enabled").GetBoolean(), recharge.GetProperty("threshold").GetDecimal(), recharge.GetProperty("amount").GetDecimal()));
        Assert.Equal(now.AddDays(18), recharge.GetProperty("nextAt").GetDateTimeOffset());

        foreach (var (query, parameter) in new[]
                 {
                     ("insights/forecast?window=0d", "window"), ("insights/forecast?window=91d", "window"), ("insights/forecast?window=week", "window"),
                     ("insights/plan-fit?periods=0", "periods"), ("insights/plan-fit?periods=25", "periods"), ("insights/plan-fit?periods=two", "periods"),
                     ($"balance?at={Q(now.AddSeconds(1))}", "at"), ("balance?at=yesterday", "at"), ("balance", "at"),
                 })
        {
            var problem = await GetAsync($"/api/v1/accounts/{account}/{query}", HttpStatusCode.BadRequest);
            Assert.Equal(parameter, problem.GetProperty("parameter").GetString());
            Assert.Contains(parameter, problem.GetProperty("detail").GetString());
        }
        await GetAsync($"/api/v1/accounts/bad id!/insights/forecast", HttpStatusCode.BadRequest);

        // Described in the generated OpenAPI document with their parameters.
        var paths = (await GetAsync("/openapi/v1.json")).GetProperty("paths");
        foreach (var (path, operation, parameter) in new[]
                 {
                     ("/api/v1/accounts/{accountId}/insights/forecast", "GetRunOutForecast", "window"),
                     ("/api/v1/accounts/{accountId}/insights/plan-fit", "GetPlanFit", "periods"),
                     ("/api/v1/accounts/{accountId}/balance", "GetBalanceAt", "at"),
                 })
        {
            var get = paths.GetProperty(path).GetProperty("get");
            Assert.Equal(operation, get.GetProperty("operationId").GetString());
            Assert.Contains(parameter, get.GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()));
        }

        // An account never seen answers zeros, as the overview does.
        var nobody = await GetAsync("/api/v1/accounts/acct-nobody/insights/forecast");
        Assert.Equal((0m, 0m, JsonValueKind.Null, 0), (nobody.GetProperty("balance").GetDecimal(), nobody.GetProperty("burnPerDay").GetDecimal(),
            nobody.GetProperty("balanceRunsOutAt").ValueKind, nobody.GetProperty("quotas").GetArrayLength()));
        var noFit = await GetAsync("/api/v1/accounts/acct-nobody/insights/plan-fit");
        Assert.Equal((0, JsonValueKind.Null, 0m), (noFit.GetProperty("periods").GetArrayLength(), noFit.GetProperty("cheapest").ValueKind, noFit.GetProperty("saving").GetDecimal()));
        var noBalance = await GetAsync($"/api/v1/accounts/acct-nobody/balance?at={Q(T0)}");
        Assert.Equal((0m, 0), (noBalance.GetProperty("balance").GetDecimal(), noBalance.GetProperty("eventsReplayed").GetInt32()));
    }
}
