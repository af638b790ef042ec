using System.Net;
using Metering.Ingestion.Kafka;

namespace Metering.Host.Tests;

/// <summary>
/// The README's first command (its own embedded broker, data in the data folder) keeps counting
/// after a restart, though the new broker numbers records from offset 0 again.
/// </summary>
public sealed class EmbeddedBrokerRestartTests : IDisposable
{
    private readonly TempDir _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Usage_accepted_after_a_restart_is_counted_though_the_new_broker_reuses_the_old_offsets()
    {
        using (var first = await EngineProcess.StartAsync("engine 1", _data.Path, new Dictionary<string, string>()))
        {
            await PostAsync(first, "before-1");
            await PostAsync(first, "before-2");
            await CallsCountedAsync(first, 2);
        }
        using var second = await EngineProcess.StartAsync("engine 2", _data.Path, new Dictionary<string, string>());
        await PostAsync(second, "after-1");
        await PostAsync(second, "after-2");
        await PostAsync(second, "after-3");
        await CallsCountedAsync(second, 5);
    }

    [Fact]
    public async Task Usage_applied_ahead_of_the_journal_is_written_when_the_engine_stops()
    {
        // Accounts may write ten minutes behind, and the consumer waits only a second on a stop: the
        // accounts themselves write what they applied as the stop hands them off.
        var settings = new Dictionary<string, string> { ["Accounts:WriteBehind"] = "00:10:00", ["Accounts:AskTimeout"] = "00:30:00", ["Kafka:DrainTimeout"] = "00:00:01" };
        using (var first = await EngineProcess.StartAsync("engine 1", _data.Path, settings))
        {
            await PostAsync(first, "ahead-1");
            await PostAsync(first, "ahead-2");
            await CallsCountedAsync(first, 2);
            Assert.Equal(0, await first.TerminateAsync(TimeSpan.FromSeconds(60)));
        }
        using var second = await EngineProcess.StartAsync("engine 2", _data.Path, settings);
        await CallsCountedAsync(second, 2);
    }

    [Fact]
    public async Task Usage_applied_ahead_of_the_journal_is_written_once_the_stream_goes_quiet()
    {
        var settings = new Dictionary<string, string> { ["Accounts:WriteBehind"] = "00:10:00", ["Accounts:AskTimeout"] = "00:30:00" };
        using (var first = await EngineProcess.StartAsync("engine 1", _data.Path, settings))
        {
            await PostAsync(first, "quiet-1");
            await PostAsync(first, "quiet-2");
            await CallsCountedAsync(first, 2);
            // The read side follows the journal: the calls reach it long before the ten minutes.
            var range = $"from={DateTime.UtcNow.AddDays(-1):yyyy-MM-ddTHH:mm:ssZ}&to={DateTime.UtcNow.AddHours(1):yyyy-MM-ddTHH:mm:ssZ}";
            await Eventually.TrueAsync(async () =>
                    (await first.Http.GetJsonAsync($"/api/v1/accounts/{Account}/usage?{range}")).GetProperty("totals").TryGetProperty("call", out var call)
                    && call.GetProperty("quantity").GetDecimal() == 2,
                TimeSpan.FromSeconds(30), "the calls did not reach the journal");
            first.Kill();
        }
        using var second = await EngineProcess.StartAsync("engine 2", _data.Path, settings);
        await CallsCountedAsync(second, 2);
    }

    [Fact]
    public void Each_start_takes_offsets_of_its_own_and_a_data_folder_that_used_them_refuses_a_Kafka_cluster()
    {
        EmbeddedBrokerEpochs.EnsureNeverUsed(_data.Path);
        var first = EmbeddedBrokerEpochs.NextOffsetBase(_data.Path);
        var second = EmbeddedBrokerEpochs.NextOffsetBase(_data.Path);
        Assert.True(first > 0);
        Assert.Equal(2 * first, second);
        var refused = Assert.Throws<InvalidOperationException>(() => EmbeddedBrokerEpochs.EnsureNeverUsed(_data.Path));
        Assert.Contains("Metering:DataDir", refused.Message);
    }

    [Fact]
    public async Task An_engine_pointed_at_a_Kafka_cluster_with_a_data_folder_that_used_the_embedded_broker_does_not_start()
    {
        EmbeddedBrokerEpochs.NextOffsetBase(_data.Path);
        // Nothing listens there: the engine refuses before it would look.
        var refused = await Assert.ThrowsAsync<TimeoutException>(() => EngineProcess.StartAsync("engine", _data.Path,
            new Dictionary<string, string> { ["Kafka:BootstrapServers"] = "127.0.0.1:9" }, readyWithin: TimeSpan.FromSeconds(15)));
        Assert.Contains("Start with an empty data folder", refused.Message);
    }

    private const string Account = "restart-acct";

    private static Task PostAsync(EngineProcess engine, string id) =>
        engine.Http.SendJsonAsync(HttpMethod.Post, "/api/v1/events", new Dictionary<string, object>
        {
            ["specversion"] = "1.0", ["id"] = id, ["source"] = "crm/dialer", ["type"] = "crm.call.completed",
            ["subject"] = Account, ["data"] = new { quantity = 1, durationSeconds = 60 },
        }, HttpStatusCode.Accepted);

    private static Task CallsCountedAsync(EngineProcess engine, int calls) =>
        Eventually.TrueAsync(async () => (await engine.Http.OverviewAsync(Account)).GetProperty("usage").GetProperty("call").GetInt64() == calls,
            TimeSpan.FromSeconds(30), $"{engine.Name} did not count {calls} calls");
}
