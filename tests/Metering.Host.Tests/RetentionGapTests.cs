using Confluent.Kafka;
using Metering.Ingestion.Kafka;

namespace Metering.Host.Tests;

/// <summary>
/// Usage the broker deleted before the engine read it cannot be counted, but it must not vanish
/// silently: the engine says how many records it lost, on which partition, in its log and metrics.
/// </summary>
public sealed class RetentionGapTests : IAsyncLifetime
{
    private const string Account = "acct-gap";
    private readonly TempDir _data = new();
    // One partition, so every record below lands in the same log.
    private readonly EmbeddedKafkaBroker _kafka = TestBackends.StartKafka(usagePartitions: 1);

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        _kafka.Dispose();
        _data.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Usage_deleted_by_retention_while_the_engine_was_down_is_reported_as_lost_with_its_count()
    {
        await using (var first = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers))
        {
            await ProduceAsync(Leads("read", 5));
            await WaitForLeadsAsync(first, 5);
        } // stopping commits what it persisted

        // While the engine is down: 5 leads, then more than the embedded broker keeps per partition
        // (5 MB), which deletes the oldest records, those leads with them; then 3 leads that stay.
        await ProduceAsync(Leads("gone", 5));
        var padding = new string('x', 10_000);
        await ProduceAsync(Enumerable.Range(0, 700).Select(i =>
            ("acct-filler", UsageStream.Event($"filler-{i}", "crm.email.sent", "acct-filler", new { quantity = 1, note = padding }))));
        await ProduceAsync(Leads("kept", 3));
        var logStart = LogStart();
        Assert.True(logStart > 10, $"the broker kept the log from offset {logStart}: nothing was deleted");

        await using var second = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers);
        await WaitForLeadsAsync(second, 5 + 3);
        // From the group's commit (offset 5) to where the log now starts, every record is reported.
        PrometheusScrape scrape = null!;
        await Eventually.TrueAsync(async () =>
        {
            scrape = await PrometheusScrape.FromAsync(second);
            return scrape.Sum("metering_events_lost_total") > 0;
        }, TimeSpan.FromSeconds(15), "no lost records were reported");
        Assert.Equal(logStart - 5, scrape.Sum("metering_events_lost_total", ("partition", "0")));
    }

    private static IEnumerable<(string Key, byte[] Value)> Leads(string prefix, int count) =>
        Enumerable.Range(0, count).Select(i => (Account, UsageStream.Event($"{prefix}-{i}", "crm.lead.created", Account, new { quantity = 1 })));

    private async Task ProduceAsync(IEnumerable<(string Key, byte[] Value)> messages)
    {
        var stream = new UsageStream();
        await stream.ProduceAsync(_kafka.BootstrapServers, TestBackends.UsageTopic, messages);
    }

    private long LogStart()
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = _kafka.BootstrapServers, GroupId = "gap-probe" }).Build();
        return consumer.QueryWatermarkOffsets(new TopicPartition(TestBackends.UsageTopic, 0), TimeSpan.FromSeconds(10)).Low.Value;
    }

    private static Task WaitForLeadsAsync(MeteringHost host, int leads) =>
        Eventually.TrueAsync(async () => (await host.OverviewAsync(Account)).GetProperty("usage").GetProperty("lead").GetDecimal() == leads,
            TimeSpan.FromSeconds(60), $"{Account} never reached {leads} leads");
}
