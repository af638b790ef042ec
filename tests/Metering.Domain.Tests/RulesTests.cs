using Metering.Domain.Accounts;
using Metering.Domain.Meters;
using Metering.Domain.Usage;

namespace Metering.Domain.Tests;

public class RulesTests
{
    [Theory]
    [InlineData("acct-42", true)]
    [InlineData("A.b_c-9", true)]
    [InlineData("", false)]
    [InlineData("-acct", false)]
    [InlineData("acct 42", false)]
    [InlineData("acct/42", false)]
    [InlineData("ácct", false)]
    public void Account_ids_use_a_safe_alphabet(string id, bool valid) => Assert.Equal(valid, AccountId.IsValid(id));

    [Fact]
    public void Account_ids_are_at_most_64_characters()
    {
        Assert.True(AccountId.IsValid(new string('a', 64)));
        Assert.False(AccountId.IsValid(new string('a', 65)));
    }

    [Fact]
    public void Cycles_anchored_on_the_31st_do_not_drift()
    {
        var anchor = new DateTimeOffset(2026, 1, 31, 9, 0, 0, TimeSpan.Zero);
        var feb = BillingCycle.Containing(anchor, new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal(new DateTimeOffset(2026, 2, 28, 9, 0, 0, TimeSpan.Zero), feb.Start);
        Assert.Equal(new DateTimeOffset(2026, 3, 31, 9, 0, 0, TimeSpan.Zero), feb.End);
        var first = BillingCycle.Containing(anchor, anchor);
        Assert.Equal(anchor, first.Start);
        Assert.Equal(new DateTimeOffset(2026, 2, 28, 9, 0, 0, TimeSpan.Zero), first.End);
    }

    [Fact]
    public void A_cycle_always_contains_its_instant()
    {
        var anchor = new DateTimeOffset(2025, 5, 31, 23, 59, 0, TimeSpan.Zero);
        for (var day = 0; day < 800; day += 7)
        {
            var at = anchor.AddDays(day).AddHours(day % 24);
            var cycle = BillingCycle.Containing(anchor, at);
            Assert.InRange(at, cycle.Start, cycle.End.AddTicks(-1));
        }
    }

    [Fact]
    public void A_meter_catalog_refuses_two_meters_on_one_event_type()
    {
        Assert.Throws<ArgumentException>(() => new MeterCatalog([new MeterDefinition("a", "t"), new MeterDefinition("b", "t")]));
        Assert.Throws<ArgumentException>(() => new MeterCatalog([new MeterDefinition("a", "t1"), new MeterDefinition("a", "t2")]));
    }

    [Fact]
    public void Dedupe_keys_tell_apart_identities_that_concatenate_alike_and_match_the_same_identity()
    {
        Assert.Equal(DedupeKey.Of("crm/a", "1"), DedupeKey.Of("crm/a", "1"));
        Assert.NotEqual(DedupeKey.Of("ab", "c"), DedupeKey.Of("a", "bc"));
        Assert.NotEqual(DedupeKey.Of("s", "1"), DedupeKey.Of("1", "s"));
        // Past the stack buffer, and outside ASCII.
        var longId = new string('é', 600);
        Assert.Equal(DedupeKey.Of("s", longId), DedupeKey.Of("s", longId));
        Assert.NotEqual(DedupeKey.Of("s", longId), DedupeKey.Of("s", longId + "x"));
    }

    [Fact]
    public void A_packed_dedupe_window_unpacks_to_the_same_live_entries()
    {
        var window = new DedupeWindow(TimeSpan.FromMinutes(10));
        window.Remember(DedupeKey.Of("s", "1"), UsageGen.T0);
        window.Remember(DedupeKey.Of("s", "2"), UsageGen.T0.AddMinutes(1));
        window.Remember(DedupeKey.Of("s", "1"), UsageGen.T0.AddMinutes(2));
        var restored = new DedupeWindow(TimeSpan.FromMinutes(10));
        restored.Unpack(window.Pack());
        Assert.Equal(window.Entries, restored.Entries);
        Assert.Equal(2, restored.Count);
        Assert.Throws<ArgumentException>(() => restored.Unpack(new byte[DedupeWindow.PackedEntrySize + 1]));
    }

    [Fact]
    public void Dedupe_window_keeps_a_key_seen_again_until_its_latest_expiry()
    {
        var window = new DedupeWindow(TimeSpan.FromMinutes(10));
        var key = DedupeKey.Of("s", "1");
        window.Remember(key, UsageGen.T0);
        window.Remember(key, UsageGen.T0.AddMinutes(5));
        window.Expire(UsageGen.T0.AddMinutes(11));
        Assert.True(window.Contains(key, UsageGen.T0.AddMinutes(11)));
        window.Expire(UsageGen.T0.AddMinutes(16));
        Assert.False(window.Contains(key, UsageGen.T0.AddMinutes(16)));
        Assert.Equal(0, window.Count);
    }
}
