using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Metering.Accounts;
using Metering.Accounts.Cluster;
using Npgsql;
using Xunit.Abstractions;

namespace Metering.Host.Tests;

/// <summary>
/// Three engine nodes, each a <c>dotnet Metering.Host.dll</c> process of its own configured through
/// environment variables, form one Akka cluster on loopback over one PostgreSQL journal and a broker
/// process (the embedded broker, so it outlives them). One node leaves in the middle of a usage
/// stream to 1,000 accounts, gracefully (SIGTERM) or by SIGKILL; its shards move to the others, the
/// stream goes on, and every account ends with exactly what was sent.
/// </summary>
public sealed class ClusterTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int UsagePartitions = 12;
    private const int Accounts = 1_000;
    private const int Events = 8_000;
    private const int BeforeLeaving = 3_000;
    private const int MaxPoolSize = 20;
    private const string PlanId = "cluster-metered";
    /// <summary>Every unit is charged (no quota, no fee), in whole cents: each account's wallet must end at exactly minus its usage's price.</summary>
    private static readonly Dictionary<string, (int Included, decimal UnitPrice)> Pricing = new() { ["lead"] = (0, 0.25m), ["call"] = (0, 0.10m), ["email"] = (0, 0.05m) };

    private readonly List<TempDir> _dirs = [];
    private readonly List<EngineProcess> _nodes = [];
    private readonly int[] _remotingPorts = [HostProcess.FreePort(), HostProcess.FreePort(), HostProcess.FreePort()];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TestPostgresDatabase? _database;
    private BrokerProcess? _broker;

    public async Task InitializeAsync()
    {
        // First, so a machine without the server fails here with the message that says what to do.
        _database = await TestPostgresDatabase.CreateAsync();
        _broker = await BrokerProcess.StartAsync(UsagePartitions);
    }

    public async Task DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            node.Dispose();
            // Shown with a failure: what each node said last.
            output.WriteLine($"--- {node.Name}, {node.ErrorCount} error lines, last output:\n{node.Tail}");
        }
        _broker?.Dispose();
        if (_database is not null) await _database.DisposeAsync();
        foreach (var dir in _dirs) dir.Dispose();
    }

    [Fact]
    public async Task A_node_that_leaves_gracefully_mid_stream_hands_its_shards_over_without_errors_and_nothing_is_lost_or_counted_twice()
    {
        var (stream, nodes, before) = await StartClusterAndStreamAsync(seed: 71, crash: false);
        var marks = nodes.Select(n => n.ErrorCount).ToArray();

        // Coordinated shutdown on SIGTERM: the consumer drains and commits, leaves the group, the
        // node leaves the cluster and hands its shards over, all while the stream goes on.
        var exitCode = await WhileStreamingAsync(stream, () => nodes[2].TerminateAsync(TimeSpan.FromSeconds(60)));
        Log($"node 3 exited with {exitCode} after SIGTERM");
        Assert.Equal(0, exitCode);

        await AssertExactAsync(stream, nodes[..2]);
        await AssertShardsMovedAsync(nodes[..2], before, TimeSpan.FromSeconds(120));
        // A graceful hand-over logs no error on any node: no batch fails for good, no association is
        // lost worth an error (a batch caught in a shard's hand-off may be retried once, a warning).
        for (var i = 0; i < nodes.Length; i++)
        {
            var errors = nodes[i].ErrorsSince(marks[i]);
            Assert.True(errors.Count == 0, $"{nodes[i].Name} logged errors:\n{string.Join('\n', errors)}");
        }
    }

    /// <param name="writeBehind">
    /// Also with accounts writing usage a second behind (<c>Metering:Accounts:WriteBehind</c>): the
    /// killed node's accounts die with usage applied and not written, which the consumers that sent
    /// it must read again.
    /// </param>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_node_killed_mid_stream_is_downed_its_shards_move_and_nothing_is_lost_or_counted_twice(bool writeBehind)
    {
        var (stream, nodes, before) = await StartClusterAndStreamAsync(seed: writeBehind ? 74 : 72, crash: true, writeBehind);

        await WhileStreamingAsync(stream, () =>
        {
            nodes[2].Kill();
            return Task.FromResult(0);
        });
        Log("node 3 SIGKILLed");

        // Keep-majority downs the silent node after StableAfter; its shards restart on the others
        // from the journal, and its Kafka partitions go to the others after the session timeout:
        // the stream is counted to the end, and the survivors hold every shard.
        await AssertExactAsync(stream, nodes[..2]);
        await AssertShardsMovedAsync(nodes[..2], before, TimeSpan.FromSeconds(120));
    }

    [Fact]
    public async Task With_partitions_colocated_every_account_lives_on_the_node_that_consumes_its_partition_also_after_a_node_left()
    {
        var stream = UsageStream.Generate(seed: 73, count: 6_000, accounts: Accounts, duplicateRate: 0.03, invalidRate: 0.01);
        var nodes = await Task.WhenAll(StartNodeAsync(0, crash: false, colocate: true), StartNodeAsync(1, crash: false, colocate: true), StartNodeAsync(2, crash: false, colocate: true));
        // Once every consumer holds its partitions (and has claimed their shards), every account is
        // asked through node 1 first: without the claims each shard would stay where that first ask
        // put it, on node 1 (the external strategy's fallback is the asking node).
        await Eventually.TrueAsync(async () =>
        {
            var held = await Task.WhenAll(nodes.Select(async n => (await n.Http.GetJsonAsync("/api/v1/cluster")).GetProperty("partitions").GetArrayLength()));
            return held.All(h => h > 0) && held.Sum() == UsagePartitions;
        }, TimeSpan.FromSeconds(60), "the three consumers never shared the partitions");
        Log("three co-locating nodes ready, partitions shared");
        // A claim may reach the coordinator after the first ask (gossip): that shard then moves, and
        // an ask caught in its hand-off fails after the Ask timeout and is asked again.
        await Parallel.ForEachAsync(stream.Expected.Keys, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (account, _) =>
            await Eventually.TrueAsync(async () => (await nodes[0].Http.OverviewAsync(account)).ValueKind == JsonValueKind.Object, TimeSpan.FromSeconds(60), $"{account} never answered"));
        await stream.ProduceAsync(_broker!.BootstrapServers, TestBackends.UsageTopic, stream.Messages.Take(BeforeLeaving));
        await AssertColocatedAsync(stream, nodes);

        // Its partitions go to the survivors' consumers, which claim their shards.
        var exitCode = await WhileStreamingAsync(stream, () => nodes[2].TerminateAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(0, exitCode);
        await stream.WaitUntilCountedAsync(nodes[0].Http, TimeSpan.FromSeconds(120));
        await AssertFreedAsync();
        // Shards follow the new assignment at the coordinator's next rebalance; the exact check asks
        // every account once, so it waits until they settled (an ask caught in a hand-off is a 503).
        await AssertColocatedAsync(stream, nodes[..2]);
        foreach (var node in nodes[..2]) await stream.AssertExactAsync(node.Http);
        Log($"{stream.Expected.Count} accounts exact on both survivors");
    }

    /// <summary>The broker process frees what the nodes' group committed: once every event is counted, every partition's log starts at its end.</summary>
    private async Task AssertFreedAsync()
    {
        var logs = await TestBackends.UsageFreedAsync(_broker!.BootstrapServers, UsagePartitions, TimeSpan.FromSeconds(30), "the broker process still holds usage the nodes committed");
        Assert.True(logs.All(w => w.High > 0), "a partition never received usage");
    }

    /// <summary>
    /// Every partition is held by one of <paramref name="nodes"/>' consumers, and every account's shard
    /// is on the node consuming its partition: eventually, as shards follow the consumer group's
    /// assignment at the coordinator's periodic rebalance.
    /// </summary>
    private async Task AssertColocatedAsync(UsageStream stream, EngineProcess[] nodes)
    {
        var placement = "";
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                var views = await Task.WhenAll(nodes.Select(n => n.Http.GetJsonAsync("/api/v1/cluster")));
                var consumers = views
                    .SelectMany(v => v.GetProperty("partitions").EnumerateArray().Select(p => (Partition: p.GetInt32(), Node: v.GetProperty("self").GetString()!)))
                    .ToList();
                var shardsAt = views[0].GetProperty("members").EnumerateArray()
                    .SelectMany(m => m.GetProperty("shardIds") is { ValueKind: JsonValueKind.Array } ids
                        ? ids.EnumerateArray().Select(id => (Shard: id.GetString()!, Node: m.GetProperty("address").GetString()!))
                        : [])
                    .ToDictionary(s => s.Shard, s => s.Node);
                placement = $"partitions {string.Join(", ", consumers.OrderBy(c => c.Partition).Select(c => $"{c.Partition}@{c.Node[^5..]}"))}; shards {string.Join(", ", shardsAt.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}@{s.Value[^5..]}"))}";
                if (!consumers.Select(c => c.Partition).Order().SequenceEqual(Enumerable.Range(0, UsagePartitions))) return false;
                var consumerOf = consumers.ToDictionary(c => c.Partition, c => c.Node);
                return stream.Expected.Keys.All(account =>
                {
                    var partition = KafkaPartitioner.Partition(account, UsagePartitions);
                    return shardsAt.GetValueOrDefault(AccountMessageExtractor.ShardOf(partition)) == consumerOf[partition];
                });
            }, TimeSpan.FromSeconds(60), "the account shards never settled beside their partitions' consumers");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}: {placement}", e);
        }
        Log($"co-located: {placement}");
    }

    /// <summary>Starts three nodes, streams the first part and checks every node hosts shards.</summary>
    private async Task<(UsageStream Stream, EngineProcess[] Nodes, JsonElement Before)> StartClusterAndStreamAsync(int seed, bool crash, bool writeBehind = false)
    {
        var stream = UsageStream.Generate(seed, count: Events, accounts: Accounts, duplicateRate: 0.03, invalidRate: 0.01);
        // All at once: the others join through the seed node, so it is still the oldest (coordinator and singletons).
        var nodes = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => StartNodeAsync(i, crash, writeBehind: writeBehind)));
        Log("three nodes ready");
        await SubscribeAsync(nodes[0].Http, stream.Expected.Keys);
        Log($"{stream.Expected.Count} accounts on the metered plan");

        await stream.ProduceAsync(_broker!.BootstrapServers, TestBackends.UsageTopic, stream.Messages.Take(BeforeLeaving));
        var before = await AssertSpreadAsync(nodes[0].Http);
        Log($"shards spread: {Shards(before)}");
        return (stream, nodes, before);
    }

    /// <summary>Produces the rest of the stream in paced chunks and runs <paramref name="leave"/> once it is under way.</summary>
    private async Task<int> WhileStreamingAsync(UsageStream stream, Func<Task<int>> leave)
    {
        var rest = stream.Messages.Skip(BeforeLeaving).ToList();
        var producing = Task.Run(async () =>
        {
            foreach (var chunk in rest.Chunk(rest.Count / 10 + 1))
            {
                await stream.ProduceAsync(_broker!.BootstrapServers, TestBackends.UsageTopic, chunk);
                await Task.Delay(250);
            }
        });
        await Task.Delay(600);
        var result = await leave();
        await producing;
        Log("stream produced");
        return result;
    }

    /// <summary>Every survivor sees only the survivors, all Up and reachable, holding every shard there was before (and any the stream started since).</summary>
    private async Task AssertShardsMovedAsync(EngineProcess[] survivors, JsonElement before, TimeSpan timeout)
    {
        var shardsBefore = before.GetProperty("sharding").GetProperty("shards").GetInt32();
        foreach (var survivor in survivors)
        {
            var last = default(JsonElement);
            try
            {
                await Eventually.TrueAsync(async () =>
                {
                    last = await survivor.Http.GetJsonAsync("/api/v1/cluster");
                    var members = last.GetProperty("members").EnumerateArray().ToList();
                    return members.Count == survivors.Length
                           && last.GetProperty("unreachable").GetArrayLength() == 0
                           && members.All(m => m.GetProperty("status").GetString() == "Up" && m.GetProperty("reachable").GetBoolean())
                           && last.GetProperty("sharding").ValueKind == JsonValueKind.Object
                           && last.GetProperty("sharding").GetProperty("shards").GetInt32() >= shardsBefore;
                }, timeout, $"{survivor.Name} never saw {survivors.Length} Up members holding all {shardsBefore} shards");
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{e.Message}: {last}", e);
            }
            Log($"{survivor.Name} sees the shards moved: {Shards(last)}");
            Assert.Equal(0, last.GetProperty("sharding").GetProperty("failedRegions").GetArrayLength());
        }
    }

    /// <summary>Every account, asked through every survivor, holds exactly what was sent.</summary>
    private async Task AssertExactAsync(UsageStream stream, EngineProcess[] survivors)
    {
        await stream.WaitUntilCountedAsync(survivors[0].Http, TimeSpan.FromSeconds(300));
        Log("every event counted");
        foreach (var survivor in survivors) await stream.AssertExactAsync(survivor.Http);
        Log($"{stream.Expected.Count} accounts exact on {survivors.Length} survivors");

        // Balances: nothing was credited, so balance minus pending is minus the price of what was sent.
        foreach (var (account, usage) in stream.Expected)
        {
            var overview = await survivors[0].Http.GetJsonAsync($"/api/v1/accounts/{account}/overview");
            var owed = usage.Sum(u => u.Value * Pricing[u.Key].UnitPrice);
            Assert.Equal(-owed, overview.GetProperty("balance").GetDecimal() - overview.GetProperty("pendingBalance").GetDecimal());
        }
        Log($"{stream.Expected.Count} balances exact");

        var view = await survivors[0].Http.GetJsonAsync("/api/v1/cluster");
        var entities = view.GetProperty("sharding").GetProperty("entities").GetInt32();
        Assert.True(entities >= stream.Expected.Count, $"{entities} live accounts, fewer than the stream's: {view}");
    }

    /// <summary>A plan that prices every unit, and every account of the stream on it, through the cluster.</summary>
    private static async Task SubscribeAsync(HttpClient http, IEnumerable<string> accounts)
    {
        await http.PutPerUnitPlanAsync(PlanId, "Cluster test metered", Pricing);
        await Parallel.ForEachAsync(accounts, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (account, _) =>
            await http.SendJsonAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/subscriptions", new { planId = PlanId }, HttpStatusCode.Created));
    }

    /// <summary>While the first part streams, checks every member is Up and hosts account shards.</summary>
    private static async Task<JsonElement> AssertSpreadAsync(HttpClient http)
    {
        var last = default(JsonElement);
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                last = await http.GetJsonAsync("/api/v1/cluster");
                var members = last.GetProperty("members").EnumerateArray().ToList();
                return members.Count == 3 && members.All(m => m.GetProperty("shards").ValueKind == JsonValueKind.Number && m.GetProperty("shards").GetInt32() > 0);
            }, TimeSpan.FromSeconds(180), "the account shards never spread over 3 members");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}: {last}", e);
        }

        Assert.False(string.IsNullOrEmpty(last.GetProperty("leader").GetString()));
        Assert.Equal(0, last.GetProperty("unreachable").GetArrayLength());
        foreach (var member in last.GetProperty("members").EnumerateArray())
        {
            Assert.Equal("Up", member.GetProperty("status").GetString());
            Assert.True(member.GetProperty("reachable").GetBoolean());
            Assert.StartsWith("akka.tcp://metering@127.0.0.1:", member.GetProperty("address").GetString());
        }
        Assert.Equal(0, last.GetProperty("sharding").GetProperty("failedRegions").GetArrayLength());
        return last;
    }

    private async Task<EngineProcess> StartNodeAsync(int index, bool crash, bool colocate = false, bool writeBehind = false)
    {
        var dir = new TempDir();
        _dirs.Add(dir);
        var settings = new Dictionary<string, string>
        {
            ["Persistence:Provider"] = "postgres",
            // Every node pools up to this many connections (recoveries, writes, queries): three
            // nodes at Npgsql's default of 100 would exhaust a default server's max_connections.
            ["Persistence:ConnectionString"] = new NpgsqlConnectionStringBuilder(_database!.ConnectionString) { MaxPoolSize = MaxPoolSize }.ConnectionString,
            ["Kafka:BootstrapServers"] = _broker!.BootstrapServers,
            ["Cluster:Port"] = _remotingPorts[index].ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Cluster:SeedNodes:0"] = $"akka.tcp://metering@127.0.0.1:{_remotingPorts[0]}",
            // Down a crashed node after 5 s of stable membership (20 s by default).
            ["Cluster:StableAfter"] = "00:00:05",
            // The broker rebalances a crashed consumer's partitions only after the session timeout.
            ["Kafka:SessionTimeout"] = "00:00:06",
        };
        // A batch stuck on a dead node's shard is retried after 10 s rather than 30. A graceful leave
        // runs on the default: its hand-over must not need a retry.
        if (crash) settings["Accounts:AskTimeout"] = "00:00:10";
        if (colocate)
        {
            settings["Cluster:ColocatePartitions"] = "true";
            // A shard that follows its partition drops the messages buffered for it at hand-off (Akka
            // keeps their order that way); the batch that sent them is retried after the Ask timeout.
            settings["Accounts:AskTimeout"] = "00:00:10";
        }
        if (writeBehind) settings["Accounts:WriteBehind"] = "00:00:01";
        var node = await EngineProcess.StartAsync($"node {index + 1}", dir.Path, settings);
        lock (_nodes) _nodes.Add(node);
        return node;
    }

    private static string Shards(JsonElement view) =>
        string.Join(", ", view.GetProperty("members").EnumerateArray().Select(m => $"{m.GetProperty("address").GetString()![^5..]}={m.GetProperty("shards")}"));

    private void Log(string message) => output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.0} s  {message}");
}
