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
        var back = RoundTrip(e, "usage-recorded.v2");
        Assert.Equal(Record, Assert.Single(back.Accepted));
        Assert.Equal(new KafkaPosition(3, 99), Assert.Single(back.Watermarks));
        Assert.Equal(4, back.Duplicates);
        Assert.Equal(T0, back.At);
        Assert.Null(back.Draws);
        Assert.Null(back.Charges);
    }

    [Fact]
    public void Usage_recorded_v2_keeps_every_value_exactly()
    {
        var later = new DateTimeOffset(2026, 11, 27, 12, 30, 0, TimeSpan.FromHours(-3));
        UsageRecord[] records =
        [
            Record,
            Record with { EventId = "e-2", Quantity = 1.50m, OccurredAt = later, Team = null, User = "ana", Position = new KafkaPosition(0, 5_000_000_000) },
            Record with { EventId = "e-3", Meter = "email", Quantity = 79_228_162_514_264_337_593_543_950_335m, OccurredAt = T0.AddDays(-400) },
            Record with { EventId = "ünïcode-✓", Source = "crm/other", Quantity = 0.0000001m },
        ];
        QuotaDraw[] draws = [new("sub_1", "call", 2.5m)];
        OverageCharge[] charges = [new("sub_1", "email", 3m, -0.015m), new("sub_2", "call", 1m, 0m)];
        var e = new UsageRecorded(records, [new KafkaPosition(3, 99), new KafkaPosition(0, 5_000_000_000)], 0, T0, draws, []);

        var back = RoundTrip(e, "usage-recorded.v2");
        Assert.Equal(records, back.Accepted);
        Assert.Equal("1.50", back.Accepted[1].Quantity.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(later.Offset, back.Accepted[1].OccurredAt.Offset);
        Assert.Equal(draws, back.Draws);
        Assert.Empty(back.Charges!);
        Assert.Equal(charges, RoundTrip(e with { Charges = charges }, "usage-recorded.v2").Charges);
    }

    [Fact]
    public void Usage_recorded_v1_json_written_by_older_versions_still_reads()
    {
        var serializer = new AccountSerializer((ExtendedActorSystem)Sys);
        var v1 = """
            {"accepted":[{"source":"crm/dialer","eventId":"e-1","meter":"call","quantity":2.5,"occurredAt":"2026-11-27T10:00:00+00:00",
            "team":"sales","user":null,"position":{"partition":3,"offset":99}}],"watermarks":[{"partition":3,"offset":99}],
            "duplicates":4,"at":"2026-11-27T10:00:00+00:00","draws":[{"subscriptionId":"sub_1","meter":"call","quantity":2.5}],"charges":[]}
            """u8.ToArray();
        var back = (UsageRecorded)serializer.FromBinary(v1, "usage-recorded.v1");
        Assert.Equal(Record, Assert.Single(back.Accepted));
        Assert.Equal(4, back.Duplicates);
        Assert.Equal(new QuotaDraw("sub_1", "call", 2.5m), Assert.Single(back.Draws!));
    }

    [Fact]
    public void Usage_recorded_v2_is_much_smaller_than_v1()
    {
        var serializer = new AccountSerializer((ExtendedActorSystem)Sys);
        var records = Enumerable.Range(0, 8).Select(i => Record with { EventId = $"e-{i}", Position = new KafkaPosition(3, 99 + i) }).ToArray();
        var e = new UsageRecorded(records, [new KafkaPosition(3, 106)], 0, T0);
        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(e, System.Text.Json.JsonSerializerOptions.Web);
        Assert.True(serializer.ToBinary(e).Length * 4 < json.Length);
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
