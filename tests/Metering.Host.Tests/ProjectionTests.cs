using System.Data.Common;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Metering.Accounts.Persistence;
using Metering.Projections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Metering.Host.Tests;

/// <summary>
/// The read side against a real engine: several simulated days of usage with plans, teams and users,
/// read back as series and lists, then rebuilt from scratch and interrupted mid-projection. Run on
/// SQLite and on PostgreSQL (see the two subclasses).
/// </summary>
public abstract class ProjectionTests : IAsyncLifetime
{
    private const string Account = "acct-proj";
    protected readonly TempDir Data = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 2, 9, 0, 0, TimeSpan.Zero)); // a Monday
    private int _eventSeq;

    public virtual Task InitializeAsync() => Task.CompletedTask;

    public virtual Task DisposeAsync()
    {
        Data.Dispose();
        return Task.CompletedTask;
    }

    /// <summary>A host on this test's database; one transaction per event, so a stop lands between many batches.</summary>
    protected abstract Task<MeteringHost> StartHostAsync(FakeTimeProvider clock);

    protected static string[] ProjectionSettings => ["--Metering:Projections:BatchSize=1"];

    [Fact]
    public async Task Series_add_up_to_the_counters_and_the_ledger_survive_a_rebuild_and_a_stop_mid_projection()
    {
        var host = await StartHostAsync(_clock);
        try
        {
            await SeedAsync(host);
            for (var day = 0; day < 4; day++)
            {
                await PostDayAsync(host, day);
                _clock.Advance(TimeSpan.FromDays(1));
            }
            await host.Http.ProjectionsCaughtUpAsync(TimeSpan.FromSeconds(120));
            await AssertSeriesMatchAccountAsync(host, buckets: 5, lastDayEmpty: true);
            await AssertListsAsync(host);

            // Rebuilt from scratch, one at a time, every read row comes back the same: the projections
            // share one read of the journal, so the one not rebuilt must skip what it already counted.
            var before = await ReadRowsAsync(host);
            foreach (var name in new[] { "billing", "usage" })
            {
                var rebuilt = await host.SendAsync(HttpMethod.Post, $"/api/v1/projections/{name}/rebuild", expected: HttpStatusCode.Accepted);
                Assert.Equal("rebuilding", rebuilt.GetProperty("status").GetString());
                await host.Http.ProjectionsCaughtUpAsync(TimeSpan.FromSeconds(120));
                Assert.Equal(before, await ReadRowsAsync(host));
            }

            // Stopped while the projection is still behind: the next host resumes from the committed offset.
            await PostDayAsync(host, 4);
            await host.DisposeAsync();
            host = await StartHostAsync(_clock);
            await host.Http.ProjectionsCaughtUpAsync(TimeSpan.FromSeconds(120));
            await AssertSeriesMatchAccountAsync(host, buckets: 5, lastDayEmpty: false);
        }
        finally
        {
            await host.DisposeAsync();
        }
    }

    [Fact]
    public async Task Bad_parameters_are_problems_naming_the_parameter()
    {
        await using var host = await StartHostAsync(_clock);
        foreach (var (query, parameter) in new[]
                 {
                     ("granularity=hour", "granularity"), ("groupBy=country", "groupBy"), ("meter=sms", "meter"),
                     ("from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "from"), ("from=yesterday", "from"),
                     ("from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", "from"),
                 })
        {
            var problem = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/usage?{query}", expected: HttpStatusCode.BadRequest);
            Assert.Equal(parameter, problem.GetProperty("parameter").GetString());
        }
        await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/invoices?page=0", expected: HttpStatusCode.BadRequest);
        await host.SendAsync(HttpMethod.Post, "/api/v1/projections/nope/rebuild", expected: HttpStatusCode.NotFound);
    }

    private static async Task SeedAsync(MeteringHost host)
    {
        await host.SendAsync(HttpMethod.Put, "/api/v1/plans/t-proj", new
        {
            id = "t-proj", name = "Projected", currency = "USD", fee = 30m, interval = "month",
            quotas = new { call = 20 },
            overage = new { call = new { model = "per_unit", unitPrice = 0.5m }, lead = new { model = "graduated", tiers = new object[] { new { upTo = 10, unitPrice = 0.1m }, new { upTo = (int?)null, unitPrice = 0.07m } } } },
        }, HttpStatusCode.Created);
        await host.SendAsync(HttpMethod.Put, "/api/v1/plans/t-team", new
        {
            id = "t-team", name = "Team pack", currency = "USD", fee = 5m, interval = "month", quotas = new { call = 6 }, overage = new { },
        }, HttpStatusCode.Created);
        await host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{Account}/payment-methods",
            new { type = "card", number = "4242424242424242", expMonth = 12, expYear = 2031, cvc = "123", holderName = "Ada" }, HttpStatusCode.Created);
        await host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{Account}/funds", new { amount = 200m, idempotencyKey = "seed" });
        await host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{Account}/subscriptions", new { planId = "t-proj" }, HttpStatusCode.Created);
        await host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{Account}/subscriptions", new { planId = "t-team", team = "sales" }, HttpStatusCode.Created);
    }

    /// <summary>A day of calls by two teams and three users, leads, and emails no plan covers, in several HTTP batches.</summary>
    private async Task PostDayAsync(MeteringHost host, int day)
    {
        var counted = (await host.OverviewAsync(Account)).GetProperty("eventsProcessed").GetInt64();
        var events = new List<Dictionary<string, object>>();
        for (var i = 0; i < 12; i++)
        {
            var (type, team, user) = (i % 4) switch
            {
                0 => ("crm.call.completed", "sales", "ana"),
                1 => ("crm.call.completed", "support", "bo"),
                2 => ("crm.lead.created", "sales", "cy"),
                _ => ("crm.email.sent", (string?)null, (string?)null),
            };
            var data = new Dictionary<string, object> { ["quantity"] = 1 + (i + day) % 3 };
            if (user is not null) data["user"] = user;
            var e = new Dictionary<string, object>
            {
                ["specversion"] = "1.0", ["id"] = $"p-{_eventSeq++}", ["source"] = "crm", ["type"] = type, ["subject"] = Account, ["data"] = data,
            };
            if (team is not null) e["team"] = team;
            events.Add(e);
        }
        foreach (var chunk in events.Chunk(4))
        {
            var posted = await host.Http.PostAsync("/api/v1/events", new StringContent(JsonSerializer.Serialize(chunk), Encoding.UTF8, "application/cloudevents-batch+json"));
            Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        }
        await Eventually.TrueAsync(async () => (await host.OverviewAsync(Account)).GetProperty("eventsProcessed").GetInt64() == counted + events.Count,
            TimeSpan.FromSeconds(30), $"day {day} not counted");
    }

    private async Task AssertSeriesMatchAccountAsync(MeteringHost host, int buckets, bool lastDayEmpty)
    {
        var overview = await host.OverviewAsync(Account);
        var cycleStart = overview.GetProperty("billingCycle").GetProperty("start").GetDateTimeOffset();
        var now = _clock.GetUtcNow();
        var range = $"from={Iso(cycleStart)}&to={Iso(now)}";

        var usage = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/usage?{range}");
        Assert.Equal("USD", usage.GetProperty("currency").GetString());
        Assert.Equal(JsonValueKind.Null, usage.GetProperty("groupBy").ValueKind);
        Assert.Equal(0, usage.GetProperty("lagMilliseconds").GetInt64());
        var totals = usage.GetProperty("totals");
        decimal amount = 0;
        foreach (var meter in new[] { "lead", "call", "email" })
        {
            // Quantities equal the actor's counters for the cycle.
            Assert.Equal(overview.GetProperty("usage").GetProperty(meter).GetDecimal(), totals.GetProperty(meter).GetProperty("quantity").GetDecimal());
            amount += totals.GetProperty(meter).GetProperty("amount").GetDecimal();
            var series = usage.GetProperty("series").EnumerateArray().Single(s => s.GetProperty("meter").GetString() == meter);
            var points = series.GetProperty("points").EnumerateArray().ToList();
            // Every day of the range appears, the days without usage as zeros.
            Assert.Equal(buckets, points.Count);
            Assert.Equal(totals.GetProperty(meter).GetProperty("quantity").GetDecimal(), points.Sum(p => p.GetProperty("quantity").GetDecimal()));
            Assert.Equal(lastDayEmpty, points[^1].GetProperty("quantity").GetDecimal() == 0);
        }
        Assert.Equal(0m, totals.GetProperty("email").GetProperty("amount").GetDecimal());
        Assert.True(totals.GetProperty("call").GetProperty("amount").GetDecimal() > 0);

        // Amounts equal what the plans charged, and with the ledger they make the balance to the cent.
        var charged = overview.GetProperty("activePlans").EnumerateArray()
            .Sum(p => p.GetProperty("overageCharged").EnumerateObject().Sum(c => c.Value.GetDecimal()));
        Assert.Equal(charged, amount);
        var ledger = (await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/ledger?pageSize=500")).GetProperty("items").EnumerateArray()
            .Sum(e => e.GetProperty("amount").GetDecimal());
        Assert.Equal(0m, overview.GetProperty("pendingBalance").GetDecimal());
        Assert.Equal(overview.GetProperty("balance").GetDecimal(), ledger - amount);

        // Grouped any way, the groups add up to the same totals.
        foreach (var groupBy in new[] { "team", "user", "plan" })
        {
            var grouped = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/usage?{range}&groupBy={groupBy}");
            foreach (var meter in new[] { "lead", "call", "email" })
            {
                var groups = grouped.GetProperty("series").EnumerateArray().Where(s => s.GetProperty("meter").GetString() == meter).ToList();
                var points = groups.SelectMany(g => g.GetProperty("points").EnumerateArray()).ToList();
                Assert.Equal(totals.GetProperty(meter).GetProperty("quantity").GetDecimal(), points.Sum(p => p.GetProperty("quantity").GetDecimal()));
                Assert.Equal(totals.GetProperty(meter).GetProperty("amount").GetDecimal(), points.Sum(p => p.GetProperty("amount").GetDecimal()));
            }
        }
        var byPlan = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/usage?{range}&groupBy=plan&meter=call");
        Assert.Equal(["t-proj", "t-team"], byPlan.GetProperty("series").EnumerateArray().Select(s => s.GetProperty("group").GetString()));
        var teamCalls = byPlan.GetProperty("series")[1].GetProperty("points").EnumerateArray().Sum(p => p.GetProperty("quantity").GetDecimal());
        Assert.Equal(6m, teamCalls); // the team pack's whole quota, drawn first by the sales team
        var quota = byPlan.GetProperty("quotas").EnumerateArray().Single(q => q.GetProperty("planId").GetString() == "t-team");
        Assert.Equal(6m, quota.GetProperty("used").GetDecimal());
        Assert.Equal(0m, quota.GetProperty("remaining").GetDecimal());
        var emails = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/usage?{range}&groupBy=plan&meter=email");
        Assert.Equal(["none"], emails.GetProperty("series").EnumerateArray().Select(s => s.GetProperty("group").GetString()));

        // Coarser buckets hold the same totals; the weeks start on Monday.
        foreach (var granularity in new[] { "week", "month" })
        {
            var coarse = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/usage?{range}&granularity={granularity}");
            Assert.Equal(totals.GetProperty("call").GetProperty("quantity").GetDecimal(),
                coarse.GetProperty("totals").GetProperty("call").GetProperty("quantity").GetDecimal());
            Assert.Equal(totals.GetProperty("call").GetProperty("amount").GetDecimal(),
                coarse.GetProperty("totals").GetProperty("call").GetProperty("amount").GetDecimal());
        }
        var week = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/usage?{range}&granularity=week");
        Assert.Equal(DayOfWeek.Monday, week.GetProperty("series")[0].GetProperty("points")[0].GetProperty("start").GetDateTimeOffset().DayOfWeek);

        // Before the first usage there is nothing to compare with.
        var trend = usage.GetProperty("trend");
        Assert.Equal(0m, trend.GetProperty("previous").GetProperty("totals").GetProperty("call").GetProperty("quantity").GetDecimal());
        Assert.Equal(JsonValueKind.Null, trend.GetProperty("previous").GetProperty("change").GetProperty("call").ValueKind);
        Assert.Equal(JsonValueKind.Null, trend.GetProperty("yearAgo").ValueKind);

        // Against the first day alone, the second day's change is a relative fraction.
        var day1 = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/usage?from={Iso(cycleStart.AddDays(1))}&to={Iso(cycleStart.AddDays(2))}&meter=call");
        var current = day1.GetProperty("totals").GetProperty("call").GetProperty("quantity").GetDecimal();
        var previous = day1.GetProperty("trend").GetProperty("previous").GetProperty("totals").GetProperty("call").GetProperty("quantity").GetDecimal();
        Assert.Equal(Math.Round((current - previous) / previous, 4), day1.GetProperty("trend").GetProperty("previous").GetProperty("change").GetProperty("call").GetDecimal());
    }

    private static async Task AssertListsAsync(MeteringHost host)
    {
        var invoices = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/invoices?pageSize=2");
        Assert.Equal(3, invoices.GetProperty("total").GetInt32()); // the receipt and two plan invoices
        Assert.Equal([$"{Account}-000003", $"{Account}-000002"], invoices.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("number").GetString()));
        var second = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/invoices?pageSize=2&page=2");
        Assert.Equal("receipt", second.GetProperty("items")[0].GetProperty("kind").GetString());

        var subscriptions = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/subscriptions");
        Assert.Equal(["sub_2", "sub_1"], subscriptions.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("subscriptionId").GetString()));
        var teamPlan = subscriptions.GetProperty("items")[0];
        Assert.Equal(6m, teamPlan.GetProperty("quotas")[0].GetProperty("used").GetDecimal());

        var notifications = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/notifications");
        Assert.Contains(notifications.GetProperty("items").EnumerateArray(), n => n.GetProperty("type").GetString() == "quota.threshold");

        var none = await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{Account}/ledger?to=2020-01-01T00:00:00Z");
        Assert.Equal(0, none.GetProperty("total").GetInt32());
    }

    /// <summary>Every read row and offset, in a fixed order, as text.</summary>
    private static async Task<List<string>> ReadRowsAsync(MeteringHost host)
    {
        var rows = new List<string>();
        await using var connection = await host.Services.GetRequiredService<ReadStore>().OpenAsync(CancellationToken.None);
        foreach (var sql in new[]
                 {
                     "SELECT account_id, day, meter, team, user_id, subscription_id, plan_id, quantity, amount FROM usage_daily ORDER BY account_id, day, meter, team, user_id, subscription_id",
                     "SELECT account_id, kind, seq, id, at, body FROM billing_items ORDER BY account_id, kind, seq",
                     "SELECT name, ordering FROM projection_offsets ORDER BY name",
                 })
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
                rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture))));
        }
        Assert.NotEmpty(rows);
        return rows;
    }

    private static string Iso(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O", CultureInfo.InvariantCulture));
}

public sealed class SqliteProjectionTests : ProjectionTests
{
    protected override Task<MeteringHost> StartHostAsync(FakeTimeProvider clock) =>
        MeteringHost.StartAsync(Data.Path, null, "metering", b => b.Services.AddSingleton<TimeProvider>(clock), ProjectionSettings);
}

public sealed class PostgresProjectionTests : ProjectionTests
{
    private TestBackends? _backends;

    public override async Task InitializeAsync() => _backends = await TestBackends.StartAsync(usagePartitions: 4);

    public override async Task DisposeAsync()
    {
        if (_backends is not null) await _backends.DisposeAsync();
        await base.DisposeAsync();
    }

    protected override Task<MeteringHost> StartHostAsync(FakeTimeProvider clock) =>
        MeteringHost.StartAsync(Data.Path, _backends!.Kafka.BootstrapServers, "metering", b => b.Services.AddSingleton<TimeProvider>(clock),
        [
            "--Metering:Persistence:Provider=postgres",
            $"--Metering:Persistence:ConnectionString={_backends.Database.ConnectionString}",
            .. ProjectionSettings,
        ]);
}
