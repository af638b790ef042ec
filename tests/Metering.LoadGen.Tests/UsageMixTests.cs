using Metering.Domain.Meters;
using Metering.Domain.Usage;
using Metering.Ingestion.CloudEvents;

namespace Metering.LoadGen.Tests;

public sealed class UsageMixTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 16, 30, 15, 123, TimeSpan.Zero);

    [Fact]
    public void Every_event_is_one_the_engine_takes_for_the_account_it_is_keyed_by()
    {
        var parser = new UsageEventParser(MeterCatalog.Default, UsageEventLimits.Default);
        var mix = new UsageMix(50, 7, "t");
        var types = new Dictionary<string, int>();
        string? previous = null;
        var burstEmails = 0;
        for (var i = 0; i < 5_000; i++)
        {
            var (key, value) = mix.Next(Now);
            var parsed = parser.Parse(value, key, new KafkaPosition(0, i), Now);

            Assert.True(parsed.IsValid, parsed.Rejection?.Detail);
            Assert.Equal(key, parsed.AccountId);
            Assert.Matches("^acct-000[0-4][0-9]$", key);
            Assert.Equal($"t-{i}", parsed.Record!.EventId);
            Assert.Equal("crm/loadgen", parsed.Record.Source);
            Assert.Equal(Now, parsed.Record.OccurredAt);
            types[parsed.Record.Meter] = types.GetValueOrDefault(parsed.Record.Meter) + 1;
            // A campaign's emails go out back to back for one account.
            if (parsed.Record.Meter == "email" && previous == $"email {key}") burstEmails++;
            previous = $"{parsed.Record.Meter} {key}";
        }
        Assert.Equal(["call", "email", "lead"], types.Keys.Order());
        Assert.All(types.Values, count => Assert.InRange(count, 500, 4_000));
        Assert.InRange(burstEmails, types["email"] / 2, types["email"]);
    }

    [Fact]
    public void A_seed_loads_the_engine_the_same_way_every_run()
    {
        var (first, second, other) = (new UsageMix(1_000, 3, "s"), new UsageMix(1_000, 3, "s"), new UsageMix(1_000, 4, "s"));
        var differs = false;
        for (var i = 0; i < 1_000; i++)
        {
            var (key, value) = first.Next(Now);
            var again = second.Next(Now);
            Assert.Equal(key, again.Key);
            Assert.Equal(value, again.Value);
            differs |= other.Next(Now).Key != key;
        }
        Assert.True(differs);
    }
}
