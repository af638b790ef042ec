using System.Text.Json;
using Metering.LoadGen;

namespace Metering.LoadGen.Tests;

/// <summary>
/// The benchmark's smoke mode runs end to end and reports every figure. Nothing here times anything
/// or asserts a speed: a loaded CI machine must not fail it, only a broken benchmark.
/// </summary>
[Collection(Collection)]
public sealed class SmokeBenchmarkTests
{
    public const string Collection = "engine meters";

    [Fact]
    public async Task Smoke_run_reports_every_figure_with_a_sane_value()
    {
        var result = await EndToEndBenchmark.RunAsync(BenchmarkOptions.Smoke, TextWriter.Null, CancellationToken.None);
        var json = JsonDocument.Parse(EndToEndBenchmark.ToJson(result)).RootElement;

        Assert.Equal("sqlite", json.GetProperty("provider").GetString());
        // The preload's shape changes what the embedded broker costs, so the summary says which it was.
        Assert.Equal(LoadProducer.DefaultLingerMs, json.GetProperty("preloadLingerMs").GetInt32());
        foreach (var field in new[]
                 {
                     "accounts", "events", "produceRate", "rawConsumeRate", "engineRate", "ratioToRaw", "halfLoadRate", "halfLoadEvents",
                     "latencyP50Ms", "latencyP99Ms", "latencyP999Ms", "memoryPerAccountBytes", "accountRecoveryMs", "nodeReadyMs", "nodeRecoveryMs",
                     "readSideCpuMicrosPerEvent",
                 })
            Assert.True(json.GetProperty(field).GetDouble() > 0, $"{field} should be positive: {json}");
        // The second half is measured only when more than one batch carried it; a smoke run may be one.
        foreach (var field in new[] { "steadyRate", "steadyCpuMicrosPerEvent", "steadyAllocatedBytesPerEvent" })
            Assert.True(json.GetProperty(field).ValueKind == JsonValueKind.Null || json.GetProperty(field).GetDouble() > 0, $"{field} should be null or positive: {json}");
        // A short second half may run no collection at all.
        foreach (var field in new[] { "steadyCollections", "steadyGcPausePercent" })
            Assert.True(json.GetProperty(field).ValueKind == JsonValueKind.Null || json.GetProperty(field).GetDouble() >= 0, $"{field} should be null or not negative: {json}");
        Assert.True(json.GetProperty("latencyP50Ms").GetDouble() <= json.GetProperty("latencyP999Ms").GetDouble());
        // The read side's work is counted on top of the engine's, and it may have kept up (0 ms).
        Assert.True(json.GetProperty("readSideCaughtUpMs").GetDouble() >= 0);
        Assert.True(json.GetProperty("readSideCpuMicrosPerEvent").GetDouble() >= json.GetProperty("engineCpuMicrosPerEvent").GetDouble());
        // Every event sent, preload and half load, counted exactly once.
        Assert.Equal(result.Events + result.HalfLoadEvents, json.GetProperty("counted").GetInt64());
    }
}
