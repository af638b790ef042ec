using System.Collections.Concurrent;
using System.Diagnostics;
using Metering.Simulation.Tests.Simulation;
using Xunit.Abstractions;

namespace Metering.Simulation.Tests;

/// <summary>
/// Runs the account simulator over many seeds. A failure names its seed and the command that
/// replays exactly that run: <c>METERING_SIM_SEED=1234 dotnet test tests/Metering.Simulation.Tests</c>.
/// <c>METERING_SIM_SEEDS</c> (how many) and <c>METERING_SIM_FIRST_SEED</c> explore other seeds.
/// </summary>
public class DeterministicSimulationTests(ITestOutputHelper output)
{
    private const int DefaultSeeds = 10_000;

    [Fact]
    public void Every_seed_keeps_every_invariant()
    {
        var seeds = SeedsToRun();
        var failures = new ConcurrentBag<SimulationResult>();
        var total = new SimulationStats();
        var clock = Stopwatch.StartNew();
        // CPU time as well as wall time: on a shared machine the wall clock says little.
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        Parallel.ForEach(seeds, seed =>
        {
            var result = AccountSimulation.Run(seed);
            if (result.Violation is not null) failures.Add(result);
            lock (total) total.Add(result.Stats);
        });
        output.WriteLine($"{seeds.Count} seeds in {clock.Elapsed.TotalSeconds:0.0} s on {Environment.ProcessorCount} cores, {(Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds:0.0} s of CPU: {total}");
        if (seeds.Count == 1) output.WriteLine(AccountSimulation.Run(seeds[0]).Describe());
        Assert.True(failures.IsEmpty,
            $"{failures.Count} of {seeds.Count} seeds broke an invariant ({string.Join(", ", failures.GroupBy(f => f.Violation!.Split(':')[1].Trim()).Select(g => $"{g.Key} x{g.Count()}"))}):{Environment.NewLine}{string.Join(Environment.NewLine + Environment.NewLine, failures.OrderBy(f => f.Seed).Take(3).Select(f => f.Describe()))}");
    }

    [Fact]
    public void A_seed_replays_the_same_run()
    {
        for (ulong seed = 1; seed <= 50; seed++)
        {
            var first = AccountSimulation.Run(seed);
            var again = AccountSimulation.Run(seed);
            Assert.Equal(first.TraceHash, again.TraceHash);
            Assert.Equal(first.Stats.ToString(), again.Stats.ToString());
            Assert.Equal(first.TraceTail, again.TraceTail);
        }
        var hashes = Enumerable.Range(1, 50).Select(s => AccountSimulation.Run((ulong)s).TraceHash).ToHashSet();
        Assert.Equal(50, hashes.Count);
    }

    [Theory]
    [InlineData(InjectedBug.CommitBeforePersist, "LOST", 100)]
    [InlineData(InjectedBug.ResumeWithNewKey, "CHARGED TWICE", 100)]
    public void The_simulator_finds_a_planted_bug(InjectedBug bug, string violation, int withinSeeds)
    {
        var options = new SimulationOptions(Bugs: bug);
        var found = Enumerable.Range(1, withinSeeds).Select(s => AccountSimulation.Run((ulong)s, options)).FirstOrDefault(r => r.Violation is not null);

        Assert.NotNull(found);
        output.WriteLine(found.Describe());
        Assert.Contains(violation, found.Violation);
        // The failing run replays exactly, so it can be debugged step by step.
        Assert.Equal(found.TraceHash, AccountSimulation.Run(found.Seed, options).TraceHash);
        Assert.Null(AccountSimulation.Run(found.Seed).Violation);
    }

    private static List<ulong> SeedsToRun()
    {
        if (Environment.GetEnvironmentVariable("METERING_SIM_SEED") is { Length: > 0 } one)
            return [ulong.Parse(one, System.Globalization.CultureInfo.InvariantCulture)];
        var count = int.TryParse(Environment.GetEnvironmentVariable("METERING_SIM_SEEDS"), out var n) ? n : DefaultSeeds;
        var first = ulong.TryParse(Environment.GetEnvironmentVariable("METERING_SIM_FIRST_SEED"), out var f) ? f : 1;
        return Enumerable.Range(0, count).Select(i => first + (ulong)i).ToList();
    }
}
