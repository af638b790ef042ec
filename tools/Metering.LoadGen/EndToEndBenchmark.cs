using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Confluent.Kafka;
using Metering.Accounts;
using Metering.Accounts.Messages;
using Metering.Host;
using Metering.Ingestion.Consumer;
using Metering.Ingestion.Kafka;
using Metering.Projections;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Npgsql;

namespace Metering.LoadGen;

/// <param name="Provider"><c>sqlite</c> or <c>postgres</c>.</param>
/// <param name="Connection">PostgreSQL server to create the benchmark database on.</param>
/// <param name="LatencyPhase">How long the half-load phase produces.</param>
/// <param name="LatencyRate">
/// The latency phase's rate; null is half the measured engine rate. A fixed rate traces latency
/// against load (how small batches, one or two events per account, cost the engine).
/// </param>
/// <param name="PreloadLingerMs">
/// The preload producer's linger, which sets how many records each message set holds. The embedded
/// broker (librdkafka's mock) is sensitive to it both ways (docs/benchmarks.md, session 18): it finds
/// a fetch's records by walking the partition's message sets from the oldest, so small sets cost its
/// thread CPU that the engine shares two cores with, and it answers a fetch with one set per
/// partition, whose big sets a bare consumer reads more slowly. 5 ms, the producers' default, unless set.
/// </param>
public sealed record BenchmarkOptions(string Provider, string? Connection, int Accounts, long Events, TimeSpan LatencyPhase, IReadOnlyList<string> EngineArgs, double? LatencyRate = null,
    int PreloadLingerMs = LoadProducer.DefaultLingerMs)
{
    public static BenchmarkOptions Smoke { get; } = new("sqlite", null, 200, 20_000, TimeSpan.FromSeconds(3), []);
    public static BenchmarkOptions Full { get; } = new("sqlite", null, 10_000, 1_000_000, TimeSpan.FromSeconds(20), []);
}

/// <summary>One run's figures; serialized as the final JSON line.</summary>
public sealed record BenchmarkResult(
    string Provider,
    int Accounts,
    long Events,
    int PreloadLingerMs,
    int ProcessorCount,
    double ProduceRate,
    double RawConsumeRate,
    double EngineRate,
    double RatioToRaw,
    double RawCpuMicrosPerEvent,
    double EngineCpuMicrosPerEvent,
    double HalfLoadRate,
    long HalfLoadEvents,
    double LatencyP50Ms,
    double LatencyP99Ms,
    double LatencyP999Ms,
    double MemoryPerAccountBytes,
    double AccountRecoveryMs,
    double NodeReadyMs,
    double NodeRecoveryMs,
    long Counted,
    double? SteadyRate,
    double? SteadyCpuMicrosPerEvent,
    double? SteadyAllocatedBytesPerEvent,
    int? SteadyCollections,
    double? SteadyGcPausePercent,
    double ReadSideCaughtUpMs,
    double ReadSideCpuMicrosPerEvent,
    double HalfLoadAllocatedBytesPerEvent);

/// <summary>
/// End to end, in one process and on one broker: preloads the usage topic, measures how fast a bare
/// Confluent consumer reads it (the ceiling), how fast the engine turns it into durable account state,
/// event-to-balance latency at half that rate, then restarts the node to time recovery and weigh the
/// accounts in memory.
/// </summary>
public static class EndToEndBenchmark
{
    private const string AdminKey = "benchmark-admin-key";

    public static async Task<BenchmarkResult> RunAsync(BenchmarkOptions options, TextWriter log, CancellationToken ct)
    {
        // librdkafka's mock broker keeps only a few MB per partition and drops the oldest beyond
        // that, so the preload is spread over enough partitions to stay whole (checked below).
        var kafka = new KafkaOptions { UsagePartitions = (int)Math.Max(8, options.Events / 12_000) };
        // It frees only what the engine's group committed, so the raw consumer below still reads everything.
        using var broker = EmbeddedKafkaBroker.StartForEngine(kafka);
        var dataDir = Path.Combine(Path.GetTempPath(), $"metering-bench-{Guid.NewGuid():N}");
        var persistence = await PersistenceArgsAsync(options, log);
        try
        {
            log.WriteLine($"Preloading {options.Events:N0} events for {options.Accounts:N0} accounts, lingering {options.PreloadLingerMs} ms");
            var preload = LoadProducer.Run(broker.BootstrapServers, kafka.UsageTopic, new UsageMix(options.Accounts, 1, "pre"), options.Events, 0, log, ct, options.PreloadLingerMs);
            if (preload.Failed > 0) throw new InvalidOperationException($"{preload.Failed:N0} of the preloaded events were not delivered.");
            log.WriteLine($"Produced at {preload.Rate:N0} events/s");
            EnsureRetained(broker.BootstrapServers, kafka, options.Events);

            var rawCpu = ProcessCounters.CpuTime();
            var raw = RawConsumeRate(broker.BootstrapServers, kafka, options.Events, ct);
            var rawCpuPerEvent = (ProcessCounters.CpuTime() - rawCpu).TotalMicroseconds / options.Events;
            log.WriteLine($"Raw Confluent.Kafka consume: {raw:N0} events/s, {rawCpuPerEvent:N1} µs CPU per event");

            using var meters = new EngineMeters();
            string[] args = [.. EngineArgs(dataDir, broker.BootstrapServers), .. persistence, .. options.EngineArgs];
            var engine = await StartEngineAsync(args, ct);
            var journal = engine.Services.GetRequiredService<ActorSystem>().Settings.Config.GetConfig("akka.persistence.journal.sql");
            log.WriteLine($"Journal: batch-size {journal.GetInt("batch-size")}, parallelism {journal.GetInt("parallelism")}, read-isolation-level {journal.GetString("read-isolation-level")}");
            meters.MarkAt(options.Events / 2);
            await meters.WaitForAsync(options.Events, TimeSpan.FromMinutes(30));
            var engineRate = options.Events / meters.Busy.TotalSeconds;
            var done = ProcessCounters.Now();
            var engineCpuPerEvent = (done.Cpu - meters.AtFirstConsumed.Cpu).TotalMicroseconds / options.Events;
            log.WriteLine($"Engine to durable state: {engineRate:N0} events/s ({engineRate / raw:P0} of raw), {engineCpuPerEvent:N1} µs CPU per event");
            // Null when the batch that passed the mark was the last: a short run can be one or two batches.
            var steadyEvents = options.Events - meters.DurableAtMark;
            double? steadyRate = null, steadyCpuPerEvent = null, steadyAllocatedPerEvent = null, steadyGcPausePercent = null;
            int? steadyCollections = null;
            if (steadyEvents > 0 && meters.SinceMark > TimeSpan.Zero)
            {
                // The first half is where every account recovers: what it costs beyond the warm half is the warm-up.
                var warming = meters.AtMark - meters.AtFirstConsumed;
                var warmingTime = meters.Busy - meters.SinceMark;
                log.WriteLine($"  its first half (accounts recovering): {meters.DurableAtMark / warmingTime.TotalSeconds:N0} events/s, {warming.Cpu.TotalMicroseconds / meters.DurableAtMark:N1} µs CPU per event, {(double)warming.Allocated / meters.DurableAtMark:N0} bytes allocated per event, {warming.Collections} garbage collections pausing the engine {100 * warming.GcPause / warmingTime:N1} % of the time");
                var (recovered, lastRecovered, recoveryMs) = meters.Recoveries(options.Accounts, 0.5, 0.99);
                log.WriteLine($"    {recovered:N0} accounts started, the last {lastRecovered.TotalSeconds:N1} s after the first batch was read; each recovered in p50 {recoveryMs[0]:N1} ms, p99 {recoveryMs[1]:N1} ms");
                var steady = done - meters.AtMark;
                steadyRate = Round(steadyEvents / meters.SinceMark.TotalSeconds);
                steadyCpuPerEvent = Math.Round(steady.Cpu.TotalMicroseconds / steadyEvents, 2);
                steadyAllocatedPerEvent = Round((double)steady.Allocated / steadyEvents);
                steadyCollections = steady.Collections;
                steadyGcPausePercent = Math.Round(100 * steady.GcPause / meters.SinceMark, 1);
                log.WriteLine($"  its second half (accounts warm): {steadyRate:N0} events/s ({steadyRate / raw:P0} of raw), {steadyCpuPerEvent:N1} µs CPU per event, {steadyAllocatedPerEvent:N0} bytes allocated per event, {steadyCollections} garbage collections pausing the engine {steadyGcPausePercent} % of the time");
            }

            // The projections follow the journal on their own: until they caught up, part of the run's
            // work is still to do, so the CPU per event with the read side counts it too.
            var readSide = await ReadSideCaughtUpAsync(engine, ct);
            var readSideCpuPerEvent = (ProcessCounters.CpuTime() - meters.AtFirstConsumed.Cpu).TotalMicroseconds / options.Events;
            log.WriteLine($"Read side caught up {readSide.TotalMilliseconds:N0} ms after the last event was durable; with it, {readSideCpuPerEvent:N1} µs CPU per event");

            var halfRate = options.LatencyRate ?? engineRate / 2;
            var halfEvents = (long)(halfRate * options.LatencyPhase.TotalSeconds);
            meters.StartLatency();
            var (latencyStart, latencyBrokerCpu, latencyClock) = (ProcessCounters.Now(), EmbeddedBrokerCpuTime(), Stopwatch.StartNew());
            // On a thread of its own: run inline, the paced loop held one of the engine's thread-pool
            // threads for the whole phase (it continued the awaits above), sleeping between events.
            await Task.Factory.StartNew(() => LoadProducer.Run(broker.BootstrapServers, kafka.UsageTopic, new UsageMix(options.Accounts, 2, "half"), halfEvents, halfRate, null, ct,
                    reportDeliveries: false),
                ct, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            await meters.WaitForAsync(options.Events + halfEvents, TimeSpan.FromMinutes(5));
            var latency = meters.LatencyQuantilesMs(0.5, 0.99, 0.999);
            log.WriteLine($"At {halfRate:N0} events/s: p50 {latency[0]:N1} ms, p99 {latency[1]:N1} ms, p99.9 {latency[2]:N1} ms");
            log.WriteLine($"  p99 in each second of the phase: {string.Join(", ", meters.LatencyBySecondMs(0.99).Select(ms => ms.ToString("N0")))} ms");
            var (batches, meanRecords, persistMs) = meters.LatencyBatches(0.5, 0.99);
            var latencyCost = ProcessCounters.Now() - latencyStart;
            log.WriteLine($"  {batches:N0} batches of {meanRecords:N0} records on average, persisted in p50 {persistMs[0]:N1} ms, p99 {persistMs[1]:N1} ms; {latencyCost.Cpu.TotalMicroseconds / halfEvents:N1} µs CPU per event, the load generator's producing included, the embedded broker's {(EmbeddedBrokerCpuTime() - latencyBrokerCpu).TotalMicroseconds / halfEvents:N1} of them; {(double)latencyCost.Allocated / halfEvents:N0} bytes allocated per event; {latencyCost.Collections} garbage collections pausing {latencyCost.GcPause.TotalMilliseconds:N0} ms in {latencyClock.Elapsed.TotalSeconds:N1} s");

            await engine.StopAsync(ct);
            await engine.DisposeAsync();

            var recovery = await MeasureRecoveryAsync(args, options.Accounts, ct);
            log.WriteLine($"Restart: ready in {recovery.ReadyMs:N0} ms, one account recovers in {recovery.AccountMs:N1} ms, all {options.Accounts:N0} in {recovery.NodeMs:N0} ms, {recovery.BytesPerAccount:N0} bytes each");

            return new BenchmarkResult(options.Provider, options.Accounts, options.Events, options.PreloadLingerMs, Environment.ProcessorCount,
                Round(preload.Rate), Round(raw), Round(engineRate), Math.Round(engineRate / raw, 3),
                Math.Round(rawCpuPerEvent, 2), Math.Round(engineCpuPerEvent, 2), Round(halfRate), halfEvents,
                Math.Round(latency[0], 2), Math.Round(latency[1], 2), Math.Round(latency[2], 2),
                Round(recovery.BytesPerAccount), Math.Round(recovery.AccountMs, 2), Round(recovery.ReadyMs), Round(recovery.NodeMs), recovery.Counted,
                steadyRate, steadyCpuPerEvent, steadyAllocatedPerEvent, steadyCollections, steadyGcPausePercent, Round(readSide.TotalMilliseconds), Math.Round(readSideCpuPerEvent, 2),
                Round((double)latencyCost.Allocated / halfEvents));
        }
        finally
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
                // A temp folder left behind is harmless.
            }
        }
    }

    public static string ToJson(BenchmarkResult result) => JsonSerializer.Serialize(result, JsonSerializerOptions.Web);

    private static double Round(double value) => Math.Round(value, 0);


    /// <summary>
    /// CPU of the embedded broker's thread (librdkafka names it <c>rdk:mock</c>) on Linux, zero
    /// elsewhere. It runs in this process, and it finds a fetch's records by walking the partition's
    /// message sets from the oldest, so its share grows with what the topic holds.
    /// </summary>
    private static TimeSpan EmbeddedBrokerCpuTime()
    {
        const double ticksPerSecond = 100; // USER_HZ, the unit of /proc's utime and stime
        if (!Directory.Exists("/proc/self/task")) return TimeSpan.Zero;
        double ticks = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (!File.ReadAllText(Path.Combine(task, "comm")).StartsWith("rdk:mock", StringComparison.Ordinal)) continue;
                // Fields after the parenthesised name: state is the 3rd field, utime the 14th, stime the 15th.
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                ticks += double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // The thread ended between listing and reading.
            }
        }
        return TimeSpan.FromSeconds(ticks / ticksPerSecond);
    }

    private static string[] EngineArgs(string dataDir, string bootstrapServers) =>
    [
        "--urls=http://127.0.0.1:0",
        $"--Metering:DataDir={dataDir}",
        $"--Metering:Auth:AdminKey={AdminKey}",
        $"--Metering:Kafka:BootstrapServers={bootstrapServers}",
        "--Metering:Demo:Enabled=false",
        "--Logging:LogLevel:Default=Warning",
        // Readiness is polled until it passes; its failures on the way are expected.
        "--Logging:LogLevel:Microsoft.Extensions.Diagnostics.HealthChecks=None",
        // The mock broker does not always see a consumer leave: the restarted node would wait out a long session.
        "--Metering:Kafka:SessionTimeout=00:00:06",
        // The engine is given the broker's address, so it takes it for a real one: it is the mock.
        $"--Metering:Kafka:FetchWait={new KafkaOptions().FetchWaitOn(embeddedBroker: true)}",
    ];

    /// <summary>A fresh database per run, so figures never depend on what an earlier run left behind.</summary>
    private static async Task<string[]> PersistenceArgsAsync(BenchmarkOptions options, TextWriter log)
    {
        if (options.Provider == "sqlite") return [];
        if (options.Provider != "postgres" || string.IsNullOrWhiteSpace(options.Connection))
            throw new ArgumentException("--provider is sqlite, or postgres with --connection");
        var server = new NpgsqlConnectionStringBuilder(options.Connection);
        var bench = new NpgsqlConnectionStringBuilder(options.Connection) { Database = "metering_bench" };
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand("DROP DATABASE IF EXISTS metering_bench WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
            await using var create = new NpgsqlCommand("CREATE DATABASE metering_bench", connection);
            await create.ExecuteNonQueryAsync();
        }
        log.WriteLine($"PostgreSQL database {bench.Database} on {bench.Host}:{bench.Port}");
        return ["--Metering:Persistence:Provider=postgres", $"--Metering:Persistence:ConnectionString={bench.ConnectionString}"];
    }

    private static void EnsureRetained(string bootstrapServers, KafkaOptions kafka, long events)
    {
        using var consumer = new ConsumerBuilder<string?, byte[]>(UsageConsumerService.ConsumerConfig(bootstrapServers, embeddedBroker: true, kafka)).Build();
        var retained = Enumerable.Range(0, kafka.UsagePartitions)
            .Select(p => consumer.QueryWatermarkOffsets(new TopicPartition(kafka.UsageTopic, p), TimeSpan.FromSeconds(10)))
            .Sum(w => w.High.Value - w.Low.Value);
        if (retained < events)
            throw new InvalidOperationException($"The embedded broker kept {retained:N0} of {events:N0} events; it drops the oldest past a few MB per partition.");
    }

    /// <summary>Reads the whole topic with the engine's consumer settings and does nothing else: the ceiling.</summary>
    private static double RawConsumeRate(string bootstrapServers, KafkaOptions kafka, long events, CancellationToken ct)
    {
        var config = UsageConsumerService.ConsumerConfig(bootstrapServers, embeddedBroker: true, new KafkaOptions { ConsumerGroup = "benchmark-raw" });
        using var consumer = new ConsumerBuilder<string?, byte[]>(config).Build();
        consumer.Subscribe(kafka.UsageTopic);
        long read = 0;
        var clock = new Stopwatch();
        while (read < events && !ct.IsCancellationRequested)
        {
            var result = consumer.Consume(TimeSpan.FromSeconds(10)) ?? throw new TimeoutException($"Raw consumer stalled at {read:N0} of {events:N0}");
            if (read == 0) clock.Start();
            read++;
            GC.KeepAlive(result);
        }
        clock.Stop();
        consumer.Close();
        // The first record starts the clock, so the group join is not counted against the ceiling.
        return (read - 1) / clock.Elapsed.TotalSeconds;
    }

    private static async Task<WebApplication> StartEngineAsync(string[] args, CancellationToken ct)
    {
        var app = MeteringApp.Build(args);
        await app.StartAsync(ct);
        var health = app.Services.GetRequiredService<HealthCheckService>();
        var clock = Stopwatch.StartNew();
        while ((await health.CheckHealthAsync(c => c.Tags.Contains("ready"), ct)).Status != HealthStatus.Healthy)
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(2)) throw new TimeoutException("The engine never became ready.");
            await Task.Delay(50, ct);
        }
        return app;
    }

    /// <summary>How long after the last durable event every projection had committed every event (lag zero).</summary>
    private static async Task<TimeSpan> ReadSideCaughtUpAsync(WebApplication engine, CancellationToken ct)
    {
        var telemetry = engine.Services.GetRequiredService<ProjectionTelemetry>();
        var clock = Stopwatch.StartNew();
        while (ProjectionTelemetry.Projections.Any(p => telemetry.Lag(p.Name) > TimeSpan.Zero))
        {
            if (clock.Elapsed > TimeSpan.FromMinutes(10)) throw new TimeoutException("The projections never caught up with the journal.");
            // Each look scans the journal rows not projected yet: often enough, not more.
            await Task.Delay(100, ct);
        }
        return clock.Elapsed;
    }

    private sealed record Recovery(double ReadyMs, double AccountMs, double NodeMs, double BytesPerAccount, long Counted);

    /// <summary>
    /// Restarts the node on the same journal: time to ready, a cold account's recovery (median of a
    /// few, one at a time), then every account at once; the managed heap they add, divided by them,
    /// is the memory of an active account.
    /// </summary>
    private static async Task<Recovery> MeasureRecoveryAsync(string[] args, int accounts, CancellationToken ct)
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        var clock = Stopwatch.StartNew();
        var engine = await StartEngineAsync(args, ct);
        var ready = clock.Elapsed;
        try
        {
            var region = await engine.Services.GetRequiredService<ActorRegistry>().GetAsync<AccountRegion>(ct);
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var samples = Math.Min(20, accounts);
            var single = new List<double>(samples);
            long counted = 0;
            for (var i = 0; i < samples; i++)
            {
                var one = Stopwatch.StartNew();
                counted += (await OverviewAsync(region, UsageMix.AccountId(i), ct)).EventsProcessed;
                single.Add(one.Elapsed.TotalMilliseconds);
            }
            single.Sort();

            var all = Stopwatch.StartNew();
            var rest = await Task.WhenAll(Enumerable.Range(samples, accounts - samples).Select(i => OverviewAsync(region, UsageMix.AccountId(i), ct)));
            var node = ready + all.Elapsed;
            counted += rest.Sum(o => o.EventsProcessed);
            var after = GC.GetTotalMemory(forceFullCollection: true);
            return new Recovery(ready.TotalMilliseconds, single[single.Count / 2], node.TotalMilliseconds, (after - before) / (double)accounts, counted);
        }
        finally
        {
            await engine.StopAsync(ct);
            await engine.DisposeAsync();
        }
    }

    private static Task<AccountOverview> OverviewAsync(IActorRef region, string accountId, CancellationToken ct) =>
        region.Ask<AccountOverview>(new GetAccountOverview(accountId), TimeSpan.FromMinutes(2), ct);
}
