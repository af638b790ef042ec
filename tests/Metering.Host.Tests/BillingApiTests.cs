using System.Net;
using System.Text;
using System.Text.Json;
using Metering.Billing.Payments;
using Metering.Domain.Payments;
using Microsoft.Extensions.DependencyInjection;

using Metering.Tests.Shared;

namespace Metering.Host.Tests;

/// <summary>The money rules through the running engine: plans over HTTP, usage through Kafka, cards through the sandbox.</summary>
public sealed class BillingApiTests : IAsyncLifetime
{
    private readonly TempDir _data = new();
    private MeteringHost _host = null!;
    private static int _ids;

    public async Task InitializeAsync() =>
        _host = await MeteringHost.StartAsync(_data.Path, extra: "--Metering:Accounts:RechargeRetryBackoff=00:00:00.200");

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _data.Dispose();
    }

    private Task<JsonElement> PutPlanAsync(string id, object quotas, object overage, decimal fee = 0) =>
        _host.SendAsync(HttpMethod.Put, $"/api/v1/plans/{id}", new { id, name = id, currency = "USD", fee, interval = "month", quotas, overage }, HttpStatusCode.Created);

    private Task<JsonElement> SubscribeAsync(string account, string planId, string? team = null) =>
        _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/subscriptions", new { planId, team }, HttpStatusCode.Created);

    private Task<JsonElement> AddCardAsync(string account, string number = "4242424242424242") =>
        _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/payment-methods",
            new { type = "card", number, expMonth = 12, expYear = 2031, cvc = "123", holderName = "Ada Lovelace", makeDefault = true }, HttpStatusCode.Created);

    private Task<JsonElement> AddFundsAsync(string account, decimal amount, string key, HttpStatusCode expected = HttpStatusCode.OK) =>
        _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/funds", new { amount, idempotencyKey = key }, expected);

    /// <summary>Posts <paramref name="count"/> events of quantity 1 in two batches, and waits until the account counted them.</summary>
    private async Task UseAsync(string account, string type, int count, string? team = null)
    {
        var before = (await _host.OverviewAsync(account)).GetProperty("eventsProcessed").GetInt64();
        var events = Enumerable.Range(0, count).Select(_ => new Dictionary<string, object?>
        {
            ["specversion"] = "1.0", ["id"] = $"b-{Interlocked.Increment(ref _ids)}", ["source"] = "crm/test", ["type"] = type,
            ["subject"] = account, ["team"] = team, ["data"] = new { quantity = 1 },
        }).ToArray();
        foreach (var chunk in events.Chunk(Math.Max(1, count / 2 + 1)))
        {
            var response = await _host.Http.PostAsync("/api/v1/events",
                new StringContent(JsonSerializer.Serialize(chunk), Encoding.UTF8, "application/cloudevents-batch+json"));
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }
        await Eventually.TrueAsync(async () => (await _host.OverviewAsync(account)).GetProperty("eventsProcessed").GetInt64() == before + count,
            TimeSpan.FromSeconds(15), $"{account} did not count {count} events");
    }

    private async Task<decimal> BalanceAsync(string account) => (await _host.OverviewAsync(account)).GetProperty("balance").GetDecimal();

    [Fact]
    public async Task Each_pricing_model_charges_the_documented_amount()
    {
        object tiers = new object[] { new { upTo = 10, unitPrice = 0.10m }, new { upTo = (int?)null, unitPrice = 0.05m, flatFee = 1m } };
        await PutPlanAsync("t-per-unit", new { }, new { call = new { model = "per_unit", unitPrice = 0.05m } });
        await PutPlanAsync("t-package", new { }, new { email = new { model = "package", packageSize = 10, packagePrice = 2m } });
        await PutPlanAsync("t-graduated", new { }, new { lead = new { model = "graduated", tiers } });
        await PutPlanAsync("t-volume", new { }, new { lead = new { model = "volume", tiers } });

        // per_unit: 30 × 0.05 = 1.50; package: ceil(25 / 10) = 3 × 2.00 = 6.00;
        // graduated: 10 × 0.10 + 15 × 0.05 + 1 = 2.75; volume: 25 × 0.05 + 1 = 2.25.
        foreach (var (plan, type, count, charge) in new[]
                 {
                     ("t-per-unit", "crm.call.completed", 30, 1.50m), ("t-package", "crm.email.sent", 25, 6.00m),
                     ("t-graduated", "crm.lead.created", 25, 2.75m), ("t-volume", "crm.lead.created", 25, 2.25m),
                 })
        {
            var account = $"acct-{plan}";
            await AddCardAsync(account);
            await AddFundsAsync(account, 100, $"{account}-seed");
            await SubscribeAsync(account, plan);
            await UseAsync(account, type, count);
            Assert.Equal(100m - charge, await BalanceAsync(account));
        }
    }

    [Fact]
    public async Task Two_plans_quotas_add_up_and_a_team_draws_its_own_plan_first()
    {
        await PutPlanAsync("t-wide", new { call = 10 }, new { call = new { model = "per_unit", unitPrice = 1m } });
        await PutPlanAsync("t-sales", new { call = 5 }, new { });
        const string account = "acct-teams";
        await AddCardAsync(account);
        await AddFundsAsync(account, 50, "teams-seed");
        await SubscribeAsync(account, "t-wide");
        await SubscribeAsync(account, "t-sales", team: "sales");

        await UseAsync(account, "crm.call.completed", 8, team: "sales");   // 5 from t-sales, 3 from t-wide
        await UseAsync(account, "crm.call.completed", 9);                  // 7 from t-wide, 2 overage at 1.00
        var overview = await _host.OverviewAsync(account);
        var quotas = overview.GetProperty("activePlans").EnumerateArray()
            .ToDictionary(p => p.GetProperty("planId").GetString()!, p => p.GetProperty("quotas")[0].GetProperty("used").GetDecimal());
        Assert.Equal(5m, quotas["t-sales"]);
        Assert.Equal(10m, quotas["t-wide"]);
        Assert.Equal(48m, overview.GetProperty("balance").GetDecimal());
    }

    [Fact]
    public async Task Crossing_the_threshold_recharges_exactly_once()
    {
        await PutPlanAsync("t-calls", new { }, new { call = new { model = "per_unit", unitPrice = 1m } });
        const string account = "acct-recharge";
        var card = await AddCardAsync(account);
        await AddFundsAsync(account, 10, "recharge-seed");
        await SubscribeAsync(account, "t-calls");
        await _host.SendAsync(HttpMethod.Put, $"/api/v1/accounts/{account}/auto-recharge",
            new { enabled = true, threshold = 5m, amount = 20m, paymentMethodId = card.GetProperty("id").GetString() });

        await UseAsync(account, "crm.call.completed", 6);  // 10 - 6 = 4 < 5: one recharge of 20
        await Eventually.TrueAsync(async () => await BalanceAsync(account) == 24m, TimeSpan.FromSeconds(10), "no recharge");
        await UseAsync(account, "crm.call.completed", 1);
        Assert.Equal(23m, await BalanceAsync(account));

        var ledger = await _host.GetEventuallyAsync($"/api/v1/accounts/{account}/ledger", p => p.GetProperty("total").GetInt32() == 2);
        Assert.Equal(["recharge", "funds"], ledger.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("kind").GetString()));
        var last = (await _host.OverviewAsync(account)).GetProperty("lastPurchase");
        Assert.Equal(20m, last.GetProperty("total").GetDecimal());
    }

    [Fact]
    public async Task A_retried_add_funds_with_the_same_key_adds_once_and_cards_are_never_echoed()
    {
        const string account = "acct-funds";
        var card = await AddCardAsync(account);
        Assert.Equal("4242", card.GetProperty("last4").GetString());
        Assert.Equal("visa", card.GetProperty("brand").GetString());
        Assert.DoesNotContain("4242424242424242", card.GetRawText());
        Assert.DoesNotContain("cvc", card.GetRawText(), StringComparison.OrdinalIgnoreCase);

        var first = await AddFundsAsync(account, 12.34m, "same-key");
        var again = await AddFundsAsync(account, 12.34m, "same-key");
        Assert.Equal(first.GetProperty("id").GetString(), again.GetProperty("id").GetString());
        Assert.Equal(12.34m, await BalanceAsync(account));

        var conflict = await AddFundsAsync(account, 99m, "same-key", HttpStatusCode.Conflict);
        Assert.Equal("idempotency_key_reused", conflict.GetProperty("code").GetString());
        var invalid = await AddFundsAsync(account, 1.001m, "k-2", HttpStatusCode.BadRequest);
        Assert.Equal("invalid_amount", invalid.GetProperty("code").GetString());

        var badCard = await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/payment-methods",
            new { type = "card", number = "4242424242424241", expMonth = 12, expYear = 2031, cvc = "123", holderName = "X" }, HttpStatusCode.BadRequest);
        Assert.Equal("invalid_number", badCard.GetProperty("code").GetString());
        Assert.DoesNotContain("4242424242424241", badCard.GetRawText());
    }

    [Fact]
    public async Task A_declined_card_is_reported_and_never_retried_past_the_cap()
    {
        const string account = "acct-declined";
        await AddCardAsync(account, "4000000000000002");
        var declined = await AddFundsAsync(account, 10, "declined-1", HttpStatusCode.PaymentRequired);
        Assert.Equal("card_declined", declined.GetProperty("code").GetString());

        await _host.SendAsync(HttpMethod.Put, $"/api/v1/accounts/{account}/auto-recharge", new { enabled = true, threshold = 5m, amount = 20m });
        await Eventually.TrueAsync(async () =>
            (await _host.OverviewAsync(account)).GetProperty("autoRecharge").GetProperty("suspendedReason").GetString()?.StartsWith("card_declined") == true,
            TimeSpan.FromSeconds(15), "auto-recharge was never suspended");
        await Task.Delay(1_000);

        using var sandbox = new SandboxPaymentGateway(Path.Combine(_data.Path, SandboxPaymentGateway.DefaultFileName));
        // pur_1 is the declined funds; pur_2..pur_4 the three recharge attempts; nothing more.
        Assert.False((await sandbox.FindChargeAsync($"{account}/pur_4", default))!.Succeeded);
        Assert.Null(await sandbox.FindChargeAsync($"{account}/pur_5", default));
        Assert.Equal(0m, await BalanceAsync(account));
    }

    [Fact]
    public async Task A_crash_between_recharge_requested_and_charged_charges_the_card_once()
    {
        await _host.DisposeAsync();
        var gatewayFile = Path.Combine(_data.Path, SandboxPaymentGateway.DefaultFileName);
        const string account = "acct-crash";
        string chargeId;
        await using (var crashing = await MeteringHost.StartAsync(_data.Path, null, "metering",
                         b => b.Services.AddSingleton<IPaymentGateway>(sp => new AnswerLosingGateway(new SandboxPaymentGateway(gatewayFile))),
                         "--Metering:Accounts:RechargeRetryBackoff=00:00:00.200"))
        {
            _host = crashing;
            await PutPlanAsync("t-crash", new { }, new { call = new { model = "per_unit", unitPrice = 1m } });
            await AddCardAsync(account);
            await SubscribeAsync(account, "t-crash");
            // Turning auto-recharge on under the threshold requests a recharge at once; its answer is lost.
            await _host.SendAsync(HttpMethod.Put, $"/api/v1/accounts/{account}/auto-recharge", new { enabled = true, threshold = 5m, amount = 20m });
            using var probe = new SandboxPaymentGateway(gatewayFile);
            await Eventually.TrueAsync(async () => await probe.FindChargeAsync($"{account}/pur_1", default) is { Succeeded: true },
                TimeSpan.FromSeconds(10), "the recharge never reached the gateway");
            chargeId = (await probe.FindChargeAsync($"{account}/pur_1", default))!.ChargeId!;
            Assert.Equal(0m, await BalanceAsync(account));
        }

        // A new actor system on the same journal and gateway: the recharge resumes with its key.
        _host = await MeteringHost.StartAsync(_data.Path, extra: "--Metering:Accounts:RechargeRetryBackoff=00:00:00.200");
        await Eventually.TrueAsync(async () => await BalanceAsync(account) == 20m, TimeSpan.FromSeconds(10), "the recharge was not resumed");
        using var sandbox = new SandboxPaymentGateway(gatewayFile);
        Assert.Equal(1, sandbox.SucceededChargeCount());
        Assert.Null(await sandbox.FindChargeAsync($"{account}/pur_2", default));
        Assert.Equal(chargeId, (await sandbox.FindChargeAsync($"{account}/pur_1", default))!.ChargeId);
    }
}
