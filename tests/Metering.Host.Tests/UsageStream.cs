using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Metering.Ingestion.Kafka;

namespace Metering.Host.Tests;

/// <summary>
/// A CRM's usage stream with a known answer: valid events, producer retries (same source and id sent
/// again) and invalid events, plus what every account must end up with.
/// </summary>
public sealed class UsageStream
{
    private static readonly (string Type, string Meter)[] Types =
        [("crm.lead.created", "lead"), ("crm.call.completed", "call"), ("crm.email.sent", "email")];

    public List<(string Key, byte[] Value)> Messages { get; } = [];
    public Dictionary<string, Dictionary<string, decimal>> Expected { get; } = [];
    public List<string> ExpectedReasons { get; } = [];
    public int Duplicates { get; private set; }
    public long ExpectedEventsProcessed { get; private set; }

    public static UsageStream Generate(int seed, int count, int accounts, double duplicateRate, double invalidRate, string idPrefix = "e")
    {
        var random = new Random(seed);
        var stream = new UsageStream();
        var valid = new List<(string Key, byte[] Value)>();
        for (var i = 0; i < count; i++)
        {
            var account = $"acct-{random.Next(accounts):000}";
            var roll = random.NextDouble();
            if (roll < invalidRate)
            {
                var (value, reason, key) = Invalid(random, account, i);
                stream.Messages.Add((key, value));
                stream.ExpectedReasons.Add(reason);
            }
            else if (roll < invalidRate + duplicateRate && valid.Count > 0)
            {
                stream.Messages.Add(valid[random.Next(valid.Count)]);
                stream.Duplicates++;
            }
            else
            {
                var (type, meter) = Types[random.Next(Types.Length)];
                var quantity = random.Next(1, 6);
                var value = Event($"{idPrefix}-{i}", type, account, new { quantity, durationSeconds = random.Next(10, 600) });
                stream.Messages.Add((account, value));
                valid.Add((account, value));
                var usage = stream.Expected.TryGetValue(account, out var u) ? u : stream.Expected[account] = [];
                usage[meter] = usage.GetValueOrDefault(meter) + quantity;
                stream.ExpectedEventsProcessed++;
            }
        }
        return stream;
    }

    /// <summary>Waits until the engine counted at least every valid event of this stream.</summary>
    public Task WaitUntilCountedAsync(MeteringHost host, TimeSpan timeout) => WaitUntilCountedAsync(host.Http, timeout);

    public async Task WaitUntilCountedAsync(HttpClient engine, TimeSpan timeout)
    {
        long total = 0;
        try
        {
            await Eventually.TrueAsync(async () =>
            {
                total = 0;
                foreach (var account in Expected.Keys)
                    total += (await engine.OverviewAsync(account)).GetProperty("eventsProcessed").GetInt64();
                return total >= ExpectedEventsProcessed;
            }, timeout, "the engine did not count every event in time");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}: {total} of {ExpectedEventsProcessed} counted", e);
        }
    }

    /// <summary>Every account holds exactly the usage sent: nothing lost, nothing counted twice.</summary>
    public Task AssertExactAsync(MeteringHost host) => AssertExactAsync(host.Http);

    public async Task AssertExactAsync(HttpClient engine)
    {
        long processed = 0;
        foreach (var (account, usage) in Expected)
        {
            var overview = await engine.OverviewAsync(account);
            foreach (var meter in new[] { "lead", "call", "email" })
                Assert.Equal(usage.GetValueOrDefault(meter), overview.GetProperty("usage").GetProperty(meter).GetDecimal());
            processed += overview.GetProperty("eventsProcessed").GetInt64();
        }
        Assert.Equal(ExpectedEventsProcessed, processed);
    }

    /// <summary>What two streams sent one after the other must add up to.</summary>
    public static UsageStream Merge(UsageStream a, UsageStream b)
    {
        var merged = new UsageStream { ExpectedEventsProcessed = a.ExpectedEventsProcessed + b.ExpectedEventsProcessed };
        foreach (var (account, usage) in a.Expected.Concat(b.Expected))
        {
            var target = merged.Expected.TryGetValue(account, out var t) ? t : merged.Expected[account] = [];
            foreach (var (meter, quantity) in usage) target[meter] = target.GetValueOrDefault(meter) + quantity;
        }
        return merged;
    }

    public static byte[] Event(string id, string type, string subject, object data) =>
        JsonSerializer.SerializeToUtf8Bytes(new
        {
            specversion = "1.0",
            id,
            source = "crm/test",
            type,
            subject,
            time = "2026-11-27T10:00:00Z",
            datacontenttype = "application/json",
            data,
        });

    private static (byte[] Value, string Reason, string Key) Invalid(Random random, string account, int i) => random.Next(5) switch
    {
        0 => (Encoding.UTF8.GetBytes("{\"specversion\":\"1.0\",\"id\":"), "malformed_json", account),
        1 => (Event($"bad-{i}", "crm.deal.closed", account, new { quantity = 1 }), "unknown_type", account),
        2 => (Event($"bad-{i}", "crm.lead.created", account, new { quantity = 0 }), "invalid_quantity", account),
        3 => (Event($"bad-{i}", "crm.lead.created", "acct-other", new { quantity = 1 }), "subject_key_mismatch", account),
        _ => (Event($"bad-{i}", "crm.email.sent", account, new { quantity = 2.5 }), "fractional_quantity", account),
    };

    /// <summary>Produces like a third-party Java-compatible client: murmur2 partitioning, keyed by account.</summary>
    public async Task ProduceAsync(string bootstrapServers, string topic, IEnumerable<(string Key, byte[] Value)>? messages = null)
    {
        Librdkafka.EnsureLoaded();
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            Partitioner = Partitioner.Murmur2Random,
            Acks = Acks.All,
            LingerMs = 5,
        }).Build();
        var deliveries = (messages ?? Messages).Select(m => producer.ProduceAsync(topic, new Message<string, byte[]> { Key = m.Key, Value = m.Value })).ToList();
        await Task.WhenAll(deliveries);
    }
}
