using System.Text;
using Confluent.Kafka;
using Metering.Ingestion.Kafka;

namespace Metering.Host.Tests;

/// <summary>Poison records on the usage topic go to the dead-letter topic with their reason and never hold up the partition.</summary>
public sealed class KafkaPoisonTests : IAsyncLifetime
{
    private const string Account = "kp-acct";
    private readonly TempDir _data = new();
    private readonly EmbeddedKafkaBroker _kafka = TestBackends.StartKafka(usagePartitions: 1);
    private MeteringHost _host = null!;

    public async Task InitializeAsync() => _host = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers);

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _kafka.Dispose();
        _data.Dispose();
    }

    [Fact]
    public async Task Binary_garbage_and_hostile_json_are_dead_lettered_and_the_valid_event_behind_them_is_counted()
    {
        var random = new Random(7);
        var garbage = new byte[10_000];
        random.NextBytes(garbage);
        (byte[]? Key, byte[]? Value, string Reason)[] poison =
        [
            (Encoding.UTF8.GetBytes(Account), garbage, "malformed_json"),
            (Encoding.UTF8.GetBytes(Account), null, "empty_value"),
            (Encoding.UTF8.GetBytes(Account), [], "malformed_json"),
            (Encoding.UTF8.GetBytes(Account), Encoding.UTF8.GetBytes(new string('[', 10_000) + new string(']', 10_000)), "malformed_json"),
            (Encoding.UTF8.GetBytes(Account), Encoding.UTF8.GetBytes(
                """{"specversion":"1.0","id":"lone\ud800","source":"s","type":"crm.lead.created","subject":"kp-acct"}"""), "invalid_id"),
            ([0xff, 0xfe, 0x00], UsageStream.Event("kp-key", "crm.lead.created", Account, new { quantity = 1 }), "subject_key_mismatch"),
        ];

        Librdkafka.EnsureLoaded();
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers, Acks = Acks.All }).Build())
        {
            foreach (var (key, value, _) in poison)
                await producer.ProduceAsync(TestBackends.UsageTopic, new Message<byte[]?, byte[]?> { Key = key, Value = value });
            await producer.ProduceAsync(TestBackends.UsageTopic, new Message<byte[]?, byte[]?>
            {
                Key = Encoding.UTF8.GetBytes(Account), Value = UsageStream.Event("kp-valid", "crm.call.completed", Account, new { quantity = 3 }),
            });
        }

        await Eventually.TrueAsync(async () => (await _host.OverviewAsync(Account)).GetProperty("usage").GetProperty("call").GetDecimal() == 3,
            TimeSpan.FromSeconds(30), "the valid event behind the poison was never counted");

        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(new ConsumerConfig
        {
            BootstrapServers = _kafka.BootstrapServers, GroupId = "dlq-" + Guid.NewGuid(), AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe("metering.usage.dlq");
        var deadLetters = new List<(string Reason, string Value)>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (deadLetters.Count < poison.Length && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(500)) is not { } r) continue;
            Assert.True(r.Message.Headers.TryGetLastBytes(KafkaHeaders.Reason, out var reason));
            deadLetters.Add((Encoding.UTF8.GetString(reason), Convert.ToHexString(r.Message.Value ?? [])));
        }
        consumer.Close();
        // Each with its own bytes, though the consumer reads every value into one reused buffer.
        Assert.Equal(poison.Select(p => (p.Reason, Convert.ToHexString(p.Value ?? []))).Order(), deadLetters.Order());
    }
}
