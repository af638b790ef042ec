using Akka.Actor;
using Akka.TestKit.Xunit2;
using Metering.Accounts.Messages;
using Metering.Accounts.Serialization;
using Metering.Domain.Accounts;
using Metering.Domain.Usage;

namespace Metering.Accounts.Tests;

public class AccountSerializerTests : TestKit
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
    private static readonly UsageRecord Record = new("crm/dialer", "e-1", "call", 2.5m, T0, "sales", null, new KafkaPosition(3, 99));

    private T RoundTrip<T>(T value, string expectedManifest) where T : notnull
    {
        var serializer = new AccountSerializer((ExtendedActorSystem)Sys);
        Assert.Equal(expectedManifest, serializer.Manifest(value));
        return (T)serializer.FromBinary(serializer.ToBinary(value), expectedManifest);
    }

    [Fact]
    public void Usage_recorded_round_trips_exactly()
    {
        var e = new UsageRecorded([Record], [new KafkaPosition(3, 99)], 4, T0);
        var back = RoundTrip(e, "usage-recorded.v1");
        Assert.Equal(Record, Assert.Single(back.Accepted));
        Assert.Equal(new KafkaPosition(3, 99), Assert.Single(back.Watermarks));
        Assert.Equal(4, back.Duplicates);
        Assert.Equal(T0, back.At);
    }

    [Fact]
    public void Snapshots_and_messages_round_trip()
    {
        var account = new Account("a", AccountSettings.Default);
        account.Apply(new UsageRecorded([Record], [new KafkaPosition(3, 99)], 0, T0));
        var snapshot = RoundTrip(account.ToSnapshot(), "account-snapshot.v1");
        Assert.Equal(2.5m, snapshot.Usage["call"]);
        Assert.Equal("e-1", Assert.Single(snapshot.Dedupe).Id);

        Assert.Equal(new UsageAccepted("a", 1, 2, 3), RoundTrip(new UsageAccepted("a", 1, 2, 3), "usage-accepted.v1"));
        Assert.Equal(new GetAccountOverview("a"), RoundTrip(new GetAccountOverview("a"), "get-overview.v1"));
        Assert.Equal(Record, Assert.Single(RoundTrip(new RecordAccountUsage("a", [Record]), "record-usage.v1").Records));
    }

    [Fact]
    public void An_unknown_manifest_is_an_error_not_a_guess()
    {
        var serializer = new AccountSerializer((ExtendedActorSystem)Sys);
        Assert.ThrowsAny<Exception>(() => serializer.FromBinary("{}"u8.ToArray(), "usage-recorded.v0"));
    }
}
