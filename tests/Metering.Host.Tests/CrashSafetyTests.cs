using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Metering.Billing.Payments;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Metering.Host.Tests;

/// <summary>
/// Issue #10: the engine (its own process, SQLite in a data folder) is SIGKILLed at seeded random
/// points while usage streams in from a broker process and accounts drain their wallets into
/// auto-recharges, and restarted each time. At the end every account is compared with a model
/// built from what was sent, and with the sandbox gateway's own record of card charges: nothing
/// lost, nothing counted twice, no card charged twice.
/// </summary>
/// <remarks>
/// Seeds: <c>METERING_CRASH_SEEDS</c> is a count (<c>20</c> runs seeds 1 to 20) or a list
/// (<c>7,19</c>); three seeds by default.
/// </remarks>
public sealed class CrashSafetyTests(ITestOutputHelper output) : IDisposable
{
    public const string SeedsVariable = "METERING_CRASH_SEEDS";

    private const int Accounts = 24;
    private const int Events = 6_000;
    private const int Chunks = 24;
    private const int Kills = 3;
    private const decimal InitialFunds = 12m;
    private const decimal Threshold = 10m;
    private const decimal RechargeAmount = 10m;
    private const string PlanId = "crash-metered";

    // Each meter has a free quota and a per-unit overage price: the wallets start draining after a
    // few chunks and recharge about every tenth of the stream, so kills land among recharges.
    private static readonly Dictionary<string, (int Included, decimal UnitPrice)> Pricing = new()
    {
        ["lead"] = (30, 0.20m),
        ["call"] = (30, 0.15m),
        ["email"] = (30, 0.10m),
    };

    private readonly TempDir _data = new();
    private readonly List<EngineProcess> _engines = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private BrokerProcess? _broker;

    public static TheoryData<int> Seeds()
    {
        var configured = Environment.GetEnvironmentVariable(SeedsVariable);
        IEnumerable<int> seeds = string.IsNullOrWhiteSpace(configured) ? [1, 2, 3]
            : configured.Contains(',', StringComparison.Ordinal) ? configured.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))
            : Enumerable.Range(1, int.Parse(configured, CultureInfo.InvariantCulture));
        var data = new TheoryData<int>();
        foreach (var seed in seeds) data.Add(seed);
        return data;
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Killed_at_random_points_while_usage_streams_and_cards_recharge_nothing_is_lost_counted_twice_or_charged_twice(int seed)
    {
        Log($"seed {seed} ({SeedsVariable} picks others)");
        var random = new Random(seed);
        var stream = UsageStream.Generate(seed, count: Events, accounts: Accounts, duplicateRate: 0.03, invalidRate: 0.01, idPrefix: $"crash{seed}");
        // From the sixth chunk on: by then the wallets are under the threshold and recharging.
        var killAfter = Enumerable.Range(5, Chunks - 8).OrderBy(_ => random.Next()).Take(Kills).ToHashSet();

        _broker = await BrokerProcess.StartAsync(partitions: 4);
        var engine = await StartEngineAsync();
        await SetUpAccountsAsync(engine.Http, stream.Expected.Keys);
        Log($"{stream.Expected.Count} accounts with a card, {InitialFunds} funds, auto-recharge {RechargeAmount} under {Threshold}");

        // The stream goes on while the engine is down: the chunk after a kill lands in Kafka before
        // the new process is up. Each kill comes a random moment after the process charged a card
        // of its own (a restarted one first waits for the group to hand it the partitions), while
        // the backlog is worked through in small batches that keep triggering recharges.
        Task<EngineProcess>? restarting = null;
        var kills = 0;
        var chargesAtStart = ReadGatewayCharges().Count;
        foreach (var (chunk, index) in stream.Messages.Chunk(Events / Chunks + 1).Select((c, i) => (c, i)))
        {
            await stream.ProduceAsync(_broker.BootstrapServers, TestBackends.UsageTopic, chunk);
            if (restarting is not null)
            {
                engine = await restarting;
                restarting = null;
                Log("engine up again");
            }
            if (killAfter.Contains(index))
            {
                await Eventually.TrueAsync(() => Task.FromResult(ReadGatewayCharges().Count > chargesAtStart),
                    TimeSpan.FromSeconds(90), $"{engine.Name} never charged a card");
                var after = random.Next(50, 1_500);
                await Task.Delay(after);
                engine.Kill();
                kills++;
                chargesAtStart = ReadGatewayCharges().Count;
                Log($"SIGKILL {kills} of {Kills}: {after} ms after its first card charge, after chunk {index + 1} of {Chunks}, {chargesAtStart} card charges so far");
                restarting = StartEngineAsync();
            }
            await Task.Delay(100);
        }
        if (restarting is not null) engine = await restarting;
        Assert.Equal(Kills, kills);
        Log("stream produced");

        await stream.WaitUntilCountedAsync(engine.Http, TimeSpan.FromSeconds(120));
        await stream.AssertExactAsync(engine.Http);
        Log($"{stream.ExpectedEventsProcessed} events counted exactly");

        var accounts = await SettledAccountsAsync(engine.Http, stream.Expected.Keys);
        // The gateway's file is read once the engine is gone, as a payment provider's records would be.
        Assert.Equal(0, await engine.TerminateAsync(TimeSpan.FromSeconds(60)));
        var charges = ReadGatewayCharges();

        var recharges = 0;
        foreach (var (id, account) in accounts)
        {
            var usage = stream.Expected[id];
            var overage = Pricing.Sum(p => Math.Max(0, usage.GetValueOrDefault(p.Key) - p.Value.Included) * p.Value.UnitPrice);
            var ledger = account.Ledger.Where(e => e.Kind is "funds" or "recharge").ToList();
            var charged = charges.Where(c => c.Key.StartsWith(id + "/", StringComparison.Ordinal)).ToList();

            Assert.Equal([InitialFunds], ledger.Where(e => e.Kind == "funds").Select(e => e.Amount));
            Assert.All(ledger.Where(e => e.Kind == "recharge"), e => Assert.Equal(RechargeAmount, e.Amount));
            // Every card charge is a recorded purchase and every recorded purchase one charge: no key
            // charged twice, no recharge requested twice under a new key, none lost.
            Assert.True(charged.Count == ledger.Count, $"{id}: {charged.Count} card charges, {ledger.Count} recorded purchases");
            Assert.All(charged, c => Assert.True(c.Succeeded, $"{c.Key} failed"));
            Assert.Equal(ledger.Sum(e => e.Amount), charged.Sum(c => c.Amount));
            // The wallet: what was paid in, less the overage the usage sent costs.
            Assert.True(account.Balance - account.Pending == ledger.Sum(e => e.Amount) - overage,
                $"{id}: balance {account.Balance}, pending {account.Pending}, paid in {ledger.Sum(e => e.Amount)}, overage {overage}");
            Assert.True(account.Balance >= 0 && account.Pending >= 0 && (account.Balance == 0 || account.Pending == 0), $"{id}: balance {account.Balance}, pending {account.Pending}");
            recharges += ledger.Count - 1;
        }
        Assert.Equal(accounts.Count + recharges, charges.Count);
        Assert.True(recharges >= accounts.Count, $"only {recharges} recharges: the test did not exercise auto-recharge");
        Log($"RESULT seed={seed} events={stream.Messages.Count} counted={stream.ExpectedEventsProcessed} kills={kills} recharges={recharges} " +
            $"card-charges={charges.Count} seconds={_clock.Elapsed.TotalSeconds:0}");
    }

    private async Task SetUpAccountsAsync(HttpClient http, IEnumerable<string> accounts)
    {
        await http.PutPerUnitPlanAsync(PlanId, "Crash test metered", Pricing);
        await Task.WhenAll(accounts.Select(async account =>
        {
            var path = $"/api/v1/accounts/{account}";
            await http.SendJsonAsync(HttpMethod.Post, $"{path}/payment-methods",
                new { type = "card", number = "4242424242424242", expMonth = 12, expYear = 2031, cvc = "123", holderName = "Crash Test", makeDefault = true }, HttpStatusCode.Created);
            await http.SendJsonAsync(HttpMethod.Post, $"{path}/funds", new { amount = InitialFunds, idempotencyKey = $"initial-{account}" });
            await http.SendJsonAsync(HttpMethod.Post, $"{path}/subscriptions", new { planId = PlanId }, HttpStatusCode.Created);
            await http.SendJsonAsync(HttpMethod.Put, $"{path}/auto-recharge", new { enabled = true, threshold = Threshold, amount = RechargeAmount });
        }));
    }

    private sealed record LedgerItem(string Kind, decimal Amount);
    private sealed record AccountState(decimal Balance, decimal Pending, IReadOnlyList<LedgerItem> Ledger);
    private sealed record GatewayCharge(string Key, decimal Amount, bool Succeeded);

    /// <summary>
    /// Every account's wallet and ledger once they stop changing: a recharge requested by the last
    /// usage may still be on its way to the gateway when the last event is counted. The ledger is a
    /// projection, so each round first waits until the projections have caught up: otherwise two
    /// rounds a second apart could both miss the last purchases and pass for settled.
    /// </summary>
    private async Task<Dictionary<string, AccountState>> SettledAccountsAsync(HttpClient http, IEnumerable<string> ids)
    {
        Dictionary<string, AccountState>? previous = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            await http.ProjectionsCaughtUpAsync(TimeSpan.FromSeconds(60));
            var current = new Dictionary<string, AccountState>();
            foreach (var id in ids)
            {
                var overview = await http.OverviewAsync(id);
                var ledger = await http.GetJsonAsync($"/api/v1/accounts/{id}/ledger?pageSize=500");
                Assert.True(ledger.GetProperty("total").GetInt32() <= 500, $"{id}: more ledger entries than one page");
                current[id] = new AccountState(
                    overview.GetProperty("balance").GetDecimal(),
                    overview.GetProperty("pendingBalance").GetDecimal(),
                    ledger.GetProperty("items").EnumerateArray().Select(e => new LedgerItem(e.GetProperty("kind").GetString()!, e.GetProperty("amount").GetDecimal())).ToList());
            }
            if (previous is not null && current.All(a => Same(a.Value, previous[a.Key]))) return current;
            if (DateTime.UtcNow > deadline) throw new TimeoutException("the accounts' wallets never settled");
            previous = current;
            await Task.Delay(1_000);
        }

        static bool Same(AccountState a, AccountState b) => a.Balance == b.Balance && a.Pending == b.Pending && a.Ledger.SequenceEqual(b.Ledger);
    }

    private List<GatewayCharge> ReadGatewayCharges()
    {
        var path = Path.Combine(_data.Path, SandboxPaymentGateway.DefaultFileName);
        // Read-write only so SQLite may recover the WAL a killed engine left; nothing is written.
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT idempotency_key, amount, succeeded FROM charges";
        using var reader = command.ExecuteReader();
        var charges = new List<GatewayCharge>();
        while (reader.Read())
            charges.Add(new GatewayCharge(reader.GetString(0), decimal.Parse(reader.GetString(1), CultureInfo.InvariantCulture), reader.GetInt64(2) == 1));
        return charges;
    }

    private async Task<EngineProcess> StartEngineAsync()
    {
        var engine = await EngineProcess.StartAsync($"engine {_engines.Count + 1}", _data.Path, new Dictionary<string, string>
        {
            ["Kafka:BootstrapServers"] = _broker!.BootstrapServers,
            // The killed process's consumer keeps its partitions until the session times out (45 s by default).
            ["Kafka:SessionTimeout"] = "00:00:06",
            // The daily cap (5) would stop recharging long before the wallets stop draining.
            ["Accounts:RechargeDailyCap"] = "1000",
            // Snapshots every few events, so recoveries start from snapshots as well as from the journal.
            ["Accounts:SnapshotEvery"] = "10",
            // Small batches: more journal writes, offset commits and recharges for a kill to fall between.
            ["Kafka:MaxBatchSize"] = "200",
            // Two batches in flight: a kill also falls between a later batch's write and an earlier one's commit.
            ["Kafka:MaxBatchesInFlight"] = "2",
        });
        lock (_engines) _engines.Add(engine);
        return engine;
    }

    private void Log(string message) => output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.0} s  {message}");

    public void Dispose()
    {
        foreach (var engine in _engines)
        {
            engine.Dispose();
            output.WriteLine($"--- {engine.Name}, {engine.ErrorCount} error lines, last output:\n{engine.Tail}");
        }
        _broker?.Dispose();
        _data.Dispose();
    }
}
