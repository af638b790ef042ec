using System.Diagnostics.Metrics;
using Metering.Accounts;
using Metering.Ingestion.Consumer;
using Microsoft.Extensions.DependencyInjection;

namespace Metering.LoadGen.Tests;

/// <summary>
/// The benchmark's "second half" counts from the batch that passed the mark to the last one. In the
/// smoke run's collection: both listen to every <c>Metering.Ingestion</c> meter in the process.
/// </summary>
[Collection(SmokeBenchmarkTests.Collection)]
public sealed class EngineMetersTests
{
    [Fact]
    public void The_second_half_starts_at_the_batch_that_passed_the_mark()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var meters = new EngineMeters();
        var metrics = new IngestionMetrics(services.GetRequiredService<IMeterFactory>());
        meters.MarkAt(50);

        metrics.Consumed(100);
        metrics.Recorded(30, 0, 0);
        Assert.Equal(TimeSpan.Zero, meters.AtMark.Cpu);
        metrics.Recorded(20, 5, 0);
        Thread.Sleep(50);
        metrics.Recorded(40, 0, 5);

        Assert.Equal(50, meters.DurableAtMark);
        Assert.True(meters.AtMark.Cpu > TimeSpan.Zero);
        Assert.Equal(100, meters.Durable);
        Assert.InRange(meters.SinceMark, TimeSpan.FromMilliseconds(40), meters.Busy);
    }

    [Fact]
    public void The_accounts_starting_are_the_first_recoveries_counted_from_the_first_consumed_batch()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var meters = new EngineMeters();
        var factory = services.GetRequiredService<IMeterFactory>();
        var ingestion = new IngestionMetrics(factory);
        var accounts = new AccountTelemetry(factory);

        ingestion.Consumed(10);
        accounts.Recovered(TimeSpan.FromMilliseconds(10));
        Thread.Sleep(30);
        accounts.Recovered(TimeSpan.FromMilliseconds(30));
        accounts.Recovered(TimeSpan.FromMilliseconds(500)); // a later recovery (a restart), not one of the run's accounts

        var (recovered, lastEnded, durationMs) = meters.Recoveries(2, 0.5, 1);

        Assert.Equal(2, recovered);
        Assert.InRange(lastEnded, TimeSpan.FromMilliseconds(25), TimeSpan.FromSeconds(5));
        Assert.Equal([10.0, 30.0], durationMs.Select(ms => Math.Round(ms)));
    }

    [Fact]
    public void The_latency_phase_gives_each_of_its_seconds_its_own_quantile()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var meters = new EngineMeters();
        var metrics = new IngestionMetrics(services.GetRequiredService<IMeterFactory>());
        var ms = (int[] values) => values.Select(v => TimeSpan.FromMilliseconds(v));

        metrics.Applied(ms([1_000])); // before the phase: not counted
        meters.StartLatency();
        metrics.Applied(ms([10, 20, 30]));
        Thread.Sleep(1_100);
        metrics.Applied(ms([200, 400]));

        Assert.Equal([400.0], meters.LatencyQuantilesMs(0.99).Select(v => Math.Round(v)));
        Assert.Equal([30.0, 400.0], meters.LatencyBySecondMs(0.99).Select(v => Math.Round(v)));
    }
}
