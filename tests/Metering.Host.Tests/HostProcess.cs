using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Metering.Host.Tests;

/// <summary>
/// <c>dotnet Metering.Host.dll …</c> (the host built next to the tests) as a child process of its own,
/// so it can be SIGKILLed or SIGTERMed like a real deployment. Disposing kills it, so a failed test
/// leaves no process behind.
/// </summary>
public class HostProcess : IDisposable
{
    private const int TailLines = 80;

    private readonly Process _process;
    private readonly ConcurrentQueue<string> _tail = new();
    private readonly List<string> _errors = [];
    private string? _previous;

    protected HostProcess(string name, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment)
    {
        Name = name;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Metering.Host.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        foreach (var (key, value) in environment) start.Environment[key] = value;
        _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {name}");
        // Drain the output so the child never blocks on a full pipe.
        _process.OutputDataReceived += (_, e) => Keep(e.Data);
        _process.ErrorDataReceived += (_, e) => Keep(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Name { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>How many lines were logged at Error or Critical so far: a mark for <see cref="ErrorsSince"/>.</summary>
    public int ErrorCount
    {
        get { lock (_errors) return _errors.Count; }
    }

    /// <summary>
    /// Lines logged at Error or Critical (the console logger's <c>fail:</c>/<c>crit:</c>) after
    /// <paramref name="mark"/>, each with its message line. A mark skips what starting logs on
    /// purpose, such as readiness probes failing until the consumer joined its group.
    /// </summary>
    public IReadOnlyList<string> ErrorsSince(int mark)
    {
        lock (_errors) return _errors.Skip(mark).ToList();
    }

    /// <summary>The last lines of output, to explain a failure.</summary>
    public string Tail => string.Join('\n', _tail);

    protected virtual void OnLine(string line)
    {
    }

    /// <summary>SIGKILL: no coordinated shutdown, no leave, no offset commit, no flush.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, as <c>docker stop</c> or a pod deletion sends, then waits for the process to end by itself.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        if (!_process.HasExited && Native.kill(_process.Id, Native.SIGTERM) != 0)
            throw new InvalidOperationException($"kill(SIGTERM) failed for {Name}: errno {Marshal.GetLastPInvokeError()}");
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"{Name} did not exit within {timeout} of SIGTERM; its last output:\n{Tail}");
        }
        return _process.ExitCode;
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        _tail.Enqueue(line);
        while (_tail.Count > TailLines) _tail.TryDequeue(out _);
        // The simple console formatter writes the level on one line and the message on the next.
        if (_previous is { } level && (level.StartsWith("fail:", StringComparison.Ordinal) || level.StartsWith("crit:", StringComparison.Ordinal)))
            lock (_errors) _errors.Add($"{level} {line.Trim()}");
        _previous = line;
        OnLine(line);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static class Native
    {
        public const int SIGTERM = 15;

        [DllImport("libc", SetLastError = true)]
        public static extern int kill(int pid, int sig);
    }
}

/// <summary><c>Metering.Host broker</c>: the embedded Kafka broker in its own process, outliving the engines.</summary>
public sealed class BrokerProcess : HostProcess
{
    private readonly TaskCompletionSource<string> _bootstrap = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private BrokerProcess(int partitions) : base("broker", ["broker", "--partitions", partitions.ToString(System.Globalization.CultureInfo.InvariantCulture), "--group", "metering"], new Dictionary<string, string>())
    {
    }

    public string BootstrapServers => _bootstrap.Task.Result;

    public static async Task<BrokerProcess> StartAsync(int partitions)
    {
        var broker = new BrokerProcess(partitions);
        try
        {
            await broker._bootstrap.Task.WaitAsync(TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException e)
        {
            broker.Dispose();
            throw new TimeoutException($"the broker process printed no bootstrap address; its output:\n{broker.Tail}", e);
        }
        return broker;
    }

    protected override void OnLine(string line)
    {
        var at = line.IndexOf(BrokerCommand.BootstrapPrefix, StringComparison.Ordinal);
        if (at >= 0) _bootstrap.TrySetResult(line[(at + BrokerCommand.BootstrapPrefix.Length)..].Trim());
    }
}

/// <summary>An engine node in its own process, configured the way an operator would: environment variables and <c>--urls</c>.</summary>
public sealed class EngineProcess : HostProcess
{
    private readonly TaskCompletionSource<string> _url = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private HttpClient? _http;

    /// <summary>
    /// Port 0: the node binds a free port itself and prints it in its banner. A port picked here and
    /// released was sometimes taken by another test's process first, whose own engine then answered
    /// this node's readiness checks.
    /// </summary>
    private EngineProcess(string name, IReadOnlyDictionary<string, string> environment)
        : base(name, ["--urls=http://127.0.0.1:0"], environment)
    {
    }

    /// <summary>The node's API, once <see cref="StartAsync"/> has read where it listens.</summary>
    public HttpClient Http => _http ?? throw new InvalidOperationException($"{Name} has not printed its URL yet");

    protected override void OnLine(string line)
    {
        var banner = line.TrimStart();
        if (banner.StartsWith(UrlPrefix, StringComparison.Ordinal)) _url.TrySetResult(banner[UrlPrefix.Length..].Trim());
    }

    private const string UrlPrefix = "URL:";

    /// <summary>
    /// Starts a node and waits until it is ready (an Up cluster member whose consumer joined its
    /// group). <paramref name="settings"/> are <c>Metering:*</c> keys without the prefix, e.g.
    /// <c>Kafka:BootstrapServers</c>.
    /// </summary>
    public static async Task<EngineProcess> StartAsync(string name, string dataDir, IReadOnlyDictionary<string, string> settings, TimeSpan? readyWithin = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["Metering__DataDir"] = dataDir,
            ["Metering__Auth__AdminKey"] = MeteringHost.AdminKey,
            ["Metering__Demo__Enabled"] = "false",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        // The same lifted rate limits as in-process test hosts; settings may set their own.
        foreach (var arg in MeteringHost.UnlimitedRates)
        {
            var (key, value) = (arg[2..arg.IndexOf('=')], arg[(arg.IndexOf('=') + 1)..]);
            environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }
        foreach (var (key, value) in settings) environment["Metering__" + key.Replace(":", "__", StringComparison.Ordinal)] = value;

        var node = new EngineProcess(name, environment);
        var within = readyWithin ?? TimeSpan.FromSeconds(90);
        try
        {
            var url = await node._url.Task.WaitAsync(within);
            node._http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
            node._http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", MeteringHost.AdminKey);
            await Eventually.TrueAsync(async () => !node.HasExited && (await node.Http.GetAsync("/health/ready")).IsSuccessStatusCode,
                within, $"{name} never became ready");
        }
        catch (TimeoutException e)
        {
            node.Dispose();
            throw new TimeoutException($"{e.Message}; its last output:\n{node.Tail}", e);
        }
        return node;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _http?.Dispose();
    }
}
