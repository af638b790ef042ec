using System.Globalization;
using Metering.Ingestion.Kafka;
using Metering.LoadGen;

// metering-loadgen produce | bench | chart; see docs/benchmarks.md.
using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

var command = args.FirstOrDefault();
var flags = Flags.Parse(args.Skip(1));
switch (command)
{
    case "produce":
        Produce(flags, cancel.Token);
        return 0;
    case "bench":
        var defaults = flags.Has("smoke") ? BenchmarkOptions.Smoke : BenchmarkOptions.Full;
        var options = defaults with
        {
            Provider = flags.Get("provider") ?? defaults.Provider,
            Connection = flags.Get("connection"),
            Accounts = (int?)flags.Int("accounts") ?? defaults.Accounts,
            Events = flags.Int("events") ?? defaults.Events,
            LatencyPhase = flags.Int("latency-seconds") is { } s ? TimeSpan.FromSeconds(s) : defaults.LatencyPhase,
            EngineArgs = flags.Extra,
            LatencyRate = flags.Int("latency-rate"),
            PreloadLingerMs = (int?)flags.Int("preload-linger") ?? defaults.PreloadLingerMs,
        };
        if (options.LatencyPhase <= TimeSpan.Zero || options.LatencyRate <= 0)
        {
            // Without events in the latency phase its quantiles, and the summary line, would be NaN.
            Console.Error.WriteLine("--latency-seconds and --latency-rate must be at least 1.");
            return 2;
        }
        if (options.PreloadLingerMs is < 0 or > 1_000)
        {
            Console.Error.WriteLine("--preload-linger is in milliseconds, 0 to 1000.");
            return 2;
        }
        var result = await EndToEndBenchmark.RunAsync(options, Console.Error, cancel.Token);
        if (flags.Get("svg") is { } svg)
        {
            File.WriteAllText(svg, BarChart.Svg($"Metering end to end, {result.Provider}, {result.Accounts:N0} accounts", "events/s",
                [("raw Confluent.Kafka consume", result.RawConsumeRate), ("engine to durable state", result.EngineRate)]));
        }
        Console.WriteLine(EndToEndBenchmark.ToJson(result));
        return 0;
    case "chart":
        // chart --out file.svg --title T --unit U "label=value" ...
        var bars = flags.Extra.Select(b => b.Split('=', 2)).Select(p => (p[0], double.Parse(p[1], CultureInfo.InvariantCulture))).ToList();
        File.WriteAllText(flags.Get("out") ?? "chart.svg", BarChart.Svg(flags.Get("title") ?? "", flags.Get("unit") ?? "", bars));
        return 0;
    default:
        Console.Error.WriteLine("""
            usage:
              produce [--bootstrap host:port | (embedded broker)] [--topic metering.usage] [--accounts 10000] [--events 1000000] [--rate 0 (flat out)] [--seed N (same stream each run)]
              bench [--smoke] [--provider sqlite|postgres --connection "Host=...;Database=postgres"] [--accounts N] [--events N] [--latency-seconds S] [--latency-rate events/s (default half the engine rate)] [--preload-linger ms (5)] [--svg file] [-- --Metering:Key=value ...]
              chart --out file.svg --title T --unit U label=value ...
            """);
        return 2;
}

static void Produce(Flags flags, CancellationToken ct)
{
    var kafka = new KafkaOptions();
    using var broker = flags.Get("bootstrap") is null ? EmbeddedKafkaBroker.StartForEngine(kafka) : null;
    if (broker is not null) Console.Error.WriteLine($"Embedded broker at {broker.BootstrapServers}");
    var bootstrap = flags.Get("bootstrap") ?? broker!.BootstrapServers;
    var accounts = (int)(flags.Int("accounts") ?? 10_000);
    var events = flags.Int("events") ?? 1_000_000;
    var rate = flags.Int("rate") ?? 0;
    var summary = LoadProducer.Run(bootstrap, flags.Get("topic") ?? kafka.UsageTopic, new UsageMix(accounts, (int?)flags.Int("seed") ?? Environment.TickCount, $"lg-{Guid.NewGuid():N}"), events, rate, Console.Error, ct);
    Console.WriteLine($"{summary.Events:N0} events for {accounts:N0} accounts in {summary.Elapsed.TotalSeconds:N1} s: {summary.Rate:N0} events/s, {summary.Failed:N0} failed");
}

/// <summary><c>--name value</c> and <c>--switch</c> flags; whatever follows <c>--</c> (or is not a flag) is extra.</summary>
internal sealed class Flags
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);

    public List<string> Extra { get; } = [];

    public static Flags Parse(IEnumerable<string> args)
    {
        var flags = new Flags();
        var list = args.ToList();
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] == "--")
            {
                flags.Extra.AddRange(list.Skip(i + 1));
                break;
            }
            if (!list[i].StartsWith("--", StringComparison.Ordinal))
            {
                flags.Extra.Add(list[i]);
                continue;
            }
            var name = list[i][2..];
            var hasValue = i + 1 < list.Count && !list[i + 1].StartsWith("--", StringComparison.Ordinal);
            flags._values[name] = hasValue ? list[++i] : null;
        }
        return flags;
    }

    public bool Has(string name) => _values.ContainsKey(name);

    public string? Get(string name) => _values.GetValueOrDefault(name);

    public long? Int(string name) => Get(name) is { } v ? long.Parse(v, CultureInfo.InvariantCulture) : null;
}
