using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Metering.Ingestion.Kafka;

namespace Metering.Host.Tests;

/// <summary>
/// Three engine nodes in one Akka cluster on loopback, sharing one PostgreSQL journal and one Kafka
/// consumer group: one node leaves (gracefully, or by SIGKILL) in the middle of a usage stream, and
/// every account still ends with exactly what was sent.
/// </summary>
public sealed class ClusterTests : IAsyncLifetime
{
    private const string UsageTopic = TestBackends.UsageTopic;
    private const int UsagePartitions = 12;
    private const int Accounts = 60;

    private readonly List<TempDir> _dirs = [];
    private readonly int[] _ports = [FreePort(), FreePort(), FreePort()];
    private TestBackends? _backends;

    private EmbeddedKafkaBroker Kafka => _backends!.Kafka;

    public async Task InitializeAsync() => _backends = await TestBackends.StartAsync(UsagePartitions);

    public async Task DisposeAsync()
    {
        if (_backends is not null) await _backends.DisposeAsync();
        foreach (var dir in _dirs) dir.Dispose();
    }

    [Fact]
    public async Task A_node_that_leaves_gracefully_mid_stream_hands_its_shards_over_and_nothing_is_lost_or_counted_twice()
    {
        var stream = UsageStream.Generate(seed: 71, count: 6_000, accounts: Accounts, duplicateRate: 0.03, invalidRate: 0.01);
        await using var node1 = await StartNodeAsync(0);
        await using var node2 = await StartNodeAsync(1);
        var node3 = await StartNodeAsync(2);
        var stopped = false;
        try
        {
            await AssertSpreadAsync(node1.Http, expectedMembers: 3, during: () => stream.ProduceAsync(Kafka.BootstrapServers, UsageTopic, stream.Messages.Take(2_000)));

            // The rest streams while node 3 leaves: coordinated shutdown stops its consumer (which
            // commits what it persisted), leaves the cluster and hands its shards to the others.
            var rest = stream.Messages.Skip(2_000).ToList();
            var producing = ProducePacedAsync(stream, rest, chunks: 8);
            await Task.Delay(300);
            stopped = true;
            await node3.DisposeAsync();
            await producing;
        }
        finally
        {
            if (!stopped) await node3.DisposeAsync();
        }

        await stream.WaitUntilCountedAsync(node1, TimeSpan.FromSeconds(60));
        await stream.AssertExactAsync(node1);
        await stream.AssertExactAsync(node2);
        await AssertMembersAsync(node1.Http, expected: 2);
    }

    [Fact]
    public async Task A_node_killed_mid_stream_is_downed_its_shards_move_and_nothing_is_lost_or_counted_twice()
    {
        var stream = UsageStream.Generate(seed: 72, count: 6_000, accounts: Accounts, duplicateRate: 0.03, invalidRate: 0.01);
        await using var node1 = await StartNodeAsync(0);
        await using var node2 = await StartNodeAsync(1);
        using var node3 = await ExternalNode.StartAsync(NodeArgs(2, NewDir()), FreePort());

        await AssertSpreadAsync(node1.Http, expectedMembers: 3, during: () => stream.ProduceAsync(Kafka.BootstrapServers, UsageTopic, stream.Messages.Take(2_000)));

        var rest = stream.Messages.Skip(2_000).ToList();
        var producing = ProducePacedAsync(stream, rest, chunks: 8);
        await Task.Delay(300);
        node3.Kill();
        await producing;

        // Keep-majority downs the silent node after StableAfter; its shards restart on the others
        // from the journal, and its Kafka partitions go to the others after the session timeout.
        await Eventually.TrueAsync(async () =>
        {
            var view = await ClusterAsync(node1.Http);
            return view.GetProperty("members").GetArrayLength() == 2 && view.GetProperty("unreachable").GetArrayLength() == 0;
        }, TimeSpan.FromSeconds(40), "the killed node was never downed");

        await stream.WaitUntilCountedAsync(node1, TimeSpan.FromSeconds(60));
        await stream.AssertExactAsync(node1);
        await stream.AssertExactAsync(node2);
        await AssertMembersAsync(node1.Http, expected: 2);
    }

    /// <summary>Produces in chunks a quarter second apart, so a node can leave while the stream runs.</summary>
    private Task ProducePacedAsync(UsageStream stream, List<(string Key, byte[] Value)> messages, int chunks) => Task.Run(async () =>
    {
        var size = (messages.Count + chunks - 1) / chunks;
        foreach (var chunk in messages.Chunk(size))
        {
            await stream.ProduceAsync(Kafka.BootstrapServers, UsageTopic, chunk);
            await Task.Delay(250);
        }
    });

    /// <summary>While <paramref name="during"/> streams, checks every member is Up and hosts account shards.</summary>
    private static async Task AssertSpreadAsync(HttpClient http, int expectedMembers, Func<Task> during)
    {
        await during();
        var last = default(JsonElement);
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                last = await ClusterAsync(http);
                var members = last.GetProperty("members").EnumerateArray().ToList();
                return members.Count == expectedMembers && members.All(m => m.GetProperty("shards").ValueKind == JsonValueKind.Number && m.GetProperty("shards").GetInt32() > 0);
            }, TimeSpan.FromSeconds(20), $"the account shards never spread over {expectedMembers} members");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}: {last}", e);
        }

        var view = await ClusterAsync(http);
        Assert.False(string.IsNullOrEmpty(view.GetProperty("leader").GetString()));
        Assert.Equal(0, view.GetProperty("unreachable").GetArrayLength());
        foreach (var member in view.GetProperty("members").EnumerateArray())
        {
            Assert.Equal("Up", member.GetProperty("status").GetString());
            Assert.True(member.GetProperty("reachable").GetBoolean());
            Assert.StartsWith("akka.tcp://metering@127.0.0.1:", member.GetProperty("address").GetString());
        }
        var sharding = view.GetProperty("sharding");
        Assert.Equal(0, sharding.GetProperty("failedRegions").GetArrayLength());
        Assert.True(sharding.GetProperty("entities").GetInt32() > 0);
    }

    private static async Task AssertMembersAsync(HttpClient http, int expected)
    {
        var view = await ClusterAsync(http);
        var members = view.GetProperty("members").EnumerateArray().ToList();
        Assert.Equal(expected, members.Count);
        Assert.All(members, m => Assert.Equal("Up", m.GetProperty("status").GetString()));
        // Every account of the stream is alive again somewhere among the survivors (the host may hold a few more of its own).
        var entities = view.GetProperty("sharding").GetProperty("entities").GetInt32();
        Assert.True(entities >= Accounts, $"{entities} entities: {view}");
        Assert.Equal(entities, members.Sum(m => m.GetProperty("entities").GetInt32()));
    }

    private static async Task<JsonElement> ClusterAsync(HttpClient http)
    {
        var response = await http.GetAsync("/api/v1/cluster");
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private Task<MeteringHost> StartNodeAsync(int index)
    {
        var dir = NewDir();
        return MeteringHost.StartAsync(dir, Kafka.BootstrapServers, "cluster", NodeArgs(index, dir).Skip(1).ToArray());
    }

    /// <summary>The arguments of node <paramref name="index"/>; the first names its data folder.</summary>
    private string[] NodeArgs(int index, string dir)
    {
        return
        [
            $"--Metering:DataDir={dir}",
            "--Metering:Persistence:Provider=postgres",
            $"--Metering:Persistence:ConnectionString={_backends!.Database.ConnectionString}",
            $"--Metering:Cluster:Port={_ports[index]}",
            $"--Metering:Cluster:SeedNodes:0=akka.tcp://metering@127.0.0.1:{_ports[0]}",
            // Down a crashed node after 5 s of stable membership (20 s by default).
            "--Metering:Cluster:StableAfter=00:00:05",
            // The mock broker rebalances a crashed consumer's partitions only after the session timeout.
            "--Metering:Kafka:SessionTimeout=00:00:06",
            // A batch stuck on a dead node's shard is retried after 5 s rather than 30.
            "--Metering:Accounts:AskTimeout=00:00:05",
            .. MeteringHost.UnlimitedRates,
        ];
    }

    private string NewDir()
    {
        var dir = new TempDir();
        _dirs.Add(dir);
        return dir.Path;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>An engine in a process of its own (the host built next to the tests), so it can be SIGKILLed.</summary>
    private sealed class ExternalNode : IDisposable
    {
        private readonly Process _process;

        private ExternalNode(Process process, HttpClient http)
        {
            _process = process;
            Http = http;
        }

        public HttpClient Http { get; }

        public static async Task<ExternalNode> StartAsync(string[] nodeArgs, int httpPort)
        {
            var hostDll = Path.Combine(AppContext.BaseDirectory, "Metering.Host.dll");
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = AppContext.BaseDirectory,
            };
            foreach (var arg in (string[])[hostDll, $"--urls=http://127.0.0.1:{httpPort}", $"--Metering:Auth:AdminKey={MeteringHost.AdminKey}",
                         "--Metering:Kafka:ConsumerGroup=cluster", "--Logging:LogLevel:Default=Warning", .. nodeArgs])
                start.ArgumentList.Add(arg);
            var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the engine process");
            // Drain its output so it never blocks on a full pipe; keep the tail to explain a failed start.
            var tail = new ConcurrentQueue<string>();
            DataReceivedEventHandler keep = (sender, e) =>
            {
                if (e.Data is null) return;
                tail.Enqueue(e.Data);
                while (tail.Count > 50) tail.TryDequeue(out _);
            };
            process.OutputDataReceived += keep;
            process.ErrorDataReceived += keep;
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();

            var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", MeteringHost.AdminKey);
            var node = new ExternalNode(process, http);
            try
            {
                await Eventually.TrueAsync(async () => !process.HasExited && (await http.GetAsync("/health/ready")).IsSuccessStatusCode,
                    TimeSpan.FromSeconds(60), "the engine process never became ready");
            }
            catch (TimeoutException e)
            {
                node.Dispose();
                throw new TimeoutException($"{e.Message}; its last output:\n{string.Join('\n', tail)}", e);
            }
            return node;
        }

        /// <summary>SIGKILL: no coordinated shutdown, no leave, no offset commit.</summary>
        public void Kill()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
            Http.Dispose();
        }
    }
}
