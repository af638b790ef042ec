using System.Text;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using CsCheck;
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
        var e = new UsageRecorded([Record], [new KafkaPosition(3, 99)], 4, T0, Dropped: [new KafkaPosition(3, 101), new KafkaPosition(1, 7)]);
        var back = RoundTrip(e, "usage-recorded.v3");
        Assert.Equal(e.Dropped, back.Dropped);
        Assert.Equal(Record, Assert.Single(back.Accepted));
        Assert.Equal(new KafkaPosition(3, 99), Assert.Single(back.Watermarks));
        Assert.Equal(4, back.Duplicates);
        Assert.Equal(T0, back.At);
        Assert.Null(back.Draws);
        Assert.Null(back.Charges);
    }

    [Fact]
    public void Usage_recorded_v3_keeps_every_value_exactly()
    {
        var later = new DateTimeOffset(2026, 11, 27, 12, 30, 0, TimeSpan.FromHours(-3));
        UsageRecord[] records =
        [
            Record,
            Record with { EventId = "e-2", Quantity = 1.50m, OccurredAt = later, Team = null, User = "ana", Position = new KafkaPosition(0, 5_000_000_000) },
            Record with { EventId = "e-3", Meter = "email", Quantity = 79_228_162_514_264_337_593_543_950_335m, OccurredAt = T0.AddDays(-400) },
            Record with { EventId = "ünïcode-✓", Source = "crm/other", Quantity = 0.0000001m },
        ];
        // The plan, team and user of a draw or charge are what the read side groups by: they must survive.
        QuotaDraw[] draws = [new("sub_1", "call", 2.5m, "pro", "sales", "ana")];
        OverageCharge[] charges = [new("sub_1", "email", 3m, -0.015m, "pro", null, "ana"), new("sub_2", "call", 1m, 0m)];
        var e = new UsageRecorded(records, [new KafkaPosition(3, 99), new KafkaPosition(0, 5_000_000_000)], 0, T0, draws, []);

        var back = RoundTrip(e, "usage-recorded.v3");
        Assert.Equal(records, back.Accepted);
        Assert.Equal("1.50", back.Accepted[1].Quantity.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(later.Offset, back.Accepted[1].OccurredAt.Offset);
        Assert.Equal(draws, back.Draws);
        Assert.Empty(back.Charges!);
        Assert.Equal(charges, RoundTrip(e with { Charges = charges }, "usage-recorded.v3").Charges);
    }

    /// <summary>A v3 row as the BinaryWriter-based writer (up to 621ebe2) wrote it: today's reader and writer must agree with it byte for byte.</summary>
    private const string V3RowFromBinaryWriter =
        "AJD1Mm1M3wgAAgIDYwCA5JfQEgQBCmNybS9kaWFsZXIDZS0xAgRjYWxsARkAAAMFc2FsZXMAA2MBA2UtMgIClgGA8MGbwwvnAgAEA2FuYQCA5JfQEgEDZS0zBQVlbWFpbED///////////8B////////39PIlJ0BAAMAA2MGCWNybS9vdGhlcg3DvG7Dr2NvZGUt4pyTAgcBAAADAANjAgcFc3ViXzECARkIA3BybwMEAwcFAAODDwgABAkFc3ViXzICAAEAAAAAAAIDZQ==";

    [Fact]
    public void Usage_recorded_v3_rows_of_the_stream_based_writer_read_and_write_the_same()
    {
        var later = new DateTimeOffset(2026, 11, 27, 12, 30, 0, TimeSpan.FromHours(-3));
        var e = new UsageRecorded(
            [
                Record,
                Record with { EventId = "e-2", Quantity = 1.50m, OccurredAt = later, Team = null, User = "ana", Position = new KafkaPosition(0, 5_000_000_000) },
                Record with { EventId = "e-3", Meter = "email", Quantity = 79_228_162_514_264_337_593_543_950_335m, OccurredAt = T0.AddDays(-400) },
                Record with { EventId = "ünïcode-✓", Source = "crm/other", Quantity = 0.0000001m },
            ],
            [new KafkaPosition(3, 99), new KafkaPosition(0, 5_000_000_000)], 2, T0,
            [new QuotaDraw("sub_1", "call", 2.5m, "pro", "sales", "ana")],
            [new OverageCharge("sub_1", "email", 3m, -0.015m, "pro", null, "ana"), new OverageCharge("sub_2", "call", 1m, 0m)],
            [new KafkaPosition(3, 101)]);
        var row = Convert.FromBase64String(V3RowFromBinaryWriter);

        AssertSame(e, UsageRecordedFormat.Read(row));
        Assert.Equal(row, UsageRecordedFormat.Write(e));
    }

    [Fact]
    public void Usage_recorded_v3_round_trips_any_batch_and_a_cut_row_is_a_serialization_error()
    {
        // Repeats as well as any string: the row refers back to a string it already holds.
        string[] common = ["crm", "call", "ana", "sales", ""];
        var text = Gen.OneOf(Gen.Int[0, common.Length - 1].Select(i => common[i]), Gen.String);
        var optional = Gen.Select(Gen.Int[0, 3], text, (n, t) => n == 0 ? null : (string?)t);
        var quantity = Gen.Decimal;
        var position = Gen.Select(Gen.Int[0, 10_000], Gen.Long[0, long.MaxValue], (p, o) => new KafkaPosition(p, o));
        var at = Gen.Select(Gen.Long[DateTimeOffset.MinValue.UtcTicks + TimeSpan.TicksPerDay, DateTimeOffset.MaxValue.UtcTicks - TimeSpan.TicksPerDay], Gen.Int[-14 * 60, 14 * 60],
            (ticks, minutes) => new DateTimeOffset(ticks, TimeSpan.Zero).ToOffset(TimeSpan.FromMinutes(minutes)));
        var record = Gen.Select(text, text, text, quantity, at, optional, optional, position)
            .Select((source, id, meter, q, when, team, user, p) => new UsageRecord(source, id, meter, q, when, team, user, p));
        var draw = Gen.Select(text, text, quantity, optional, optional, optional, (sub, meter, q, plan, team, user) => new QuotaDraw(sub, meter, q, plan, team, user));
        var charge = Gen.Select(text, text, quantity, quantity, optional, optional, optional, (sub, meter, q, amount, plan, team, user) => new OverageCharge(sub, meter, q, amount, plan, team, user));
        var recorded = Gen.Select(record.Array[0, 6], position.Array[0, 3], Gen.Int[0, int.MaxValue], at,
                OrNull(draw.Array[0, 3]), OrNull(charge.Array[0, 3]), OrNull(position.Array[0, 3]))
            // The writer keeps records' times relative to the batch's; days apart keep that within range.
            .Where((records, _, _, when, _, _, _) => records.All(r => Math.Abs((r.OccurredAt - when).Ticks) < TimeSpan.TicksPerDay * 36_500))
            .Select((records, marks, duplicates, when, draws, charges, dropped) => new UsageRecorded(records, marks, duplicates, when, draws, charges, dropped));

        recorded.Sample(e =>
        {
            var row = UsageRecordedFormat.Write(e);
            AssertSame(e, UsageRecordedFormat.Read(row));
            for (var cut = 0; cut < row.Length; cut++)
                Assert.Throws<System.Runtime.Serialization.SerializationException>(() => UsageRecordedFormat.Read(row[..cut]));
        }, iter: 300);
    }

    private static Gen<T[]?> OrNull<T>(Gen<T[]> items) => Gen.Select(Gen.Bool, items, (none, some) => none ? null : some);

    private static void AssertSame(UsageRecorded expected, UsageRecorded actual)
    {
        Assert.Equal(expected.Accepted, actual.Accepted);
        Assert.Equal(expected.Accepted.Select(r => r.Quantity.Scale), actual.Accepted.Select(r => r.Quantity.Scale));
        Assert.Equal(expected.Accepted.Select(r => r.OccurredAt.Offset), actual.Accepted.Select(r => r.OccurredAt.Offset));
        Assert.Equal(expected.Watermarks, actual.Watermarks);
        Assert.Equal(expected.Duplicates, actual.Duplicates);
        Assert.Equal(expected.At, actual.At);
        Assert.Equal(expected.At.Offset, actual.At.Offset);
        Assert.Equal(expected.Draws, actual.Draws);
        Assert.Equal(expected.Charges, actual.Charges);
        Assert.Equal(expected.Dropped, actual.Dropped);
    }

    [Fact]
    public void Usage_recorded_v2_rows_written_before_the_dropped_positions_still_read()
    {
        var serializer = new AccountSerializer((ExtendedActorSystem)Sys);
        var e = new UsageRecorded([Record], [new KafkaPosition(3, 99)], 4, T0, [], null);
        // v2 is v3 without the trailing list of dropped positions (one zero byte when there is none).
        var v3 = serializer.ToBinary(e);
        Assert.Equal(0, v3[^1]);
        var back = (UsageRecorded)serializer.FromBinary(v3[..^1], "usage-recorded.v2");
        Assert.Equal(Record, Assert.Single(back.Accepted));
        Assert.Equal(new KafkaPosition(3, 99), Assert.Single(back.Watermarks));
        Assert.Empty(back.Draws!);
        Assert.Null(back.Dropped);
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(v3[..^1], "usage-recorded.v3"));
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
    public void Usage_recorded_binary_is_much_smaller_than_v1_json()
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
        var snapshot = RoundTrip(account.ToSnapshot(), "account-snapshot.v2");
        Assert.Equal(2.5m, snapshot.Usage["call"]);
        Assert.Equal(DedupeWindow.PackedEntrySize, snapshot.DedupeWindow!.Length);
        Assert.Equal(account.Dedupe.Entries, Account.FromSnapshot(snapshot, AccountSettings.Default).Dedupe.Entries);
        account.Apply(new UsageRecorded([Record with { EventId = "e-2", Position = new KafkaPosition(3, 120) }], [], 0, T0));
        Assert.Equal([new KafkaPosition(3, 120)], RoundTrip(account.ToSnapshot(), "account-snapshot.v2").TakenAbove);

        Assert.Equal(new UsageAccepted("a", 1, 2, 3), RoundTrip(new UsageAccepted("a", 1, 2, 3), "usage-accepted.v1"));
        Assert.Equal(new UsageAccepted("a", 1, 2, 3, Deferred: true), RoundTrip(new UsageAccepted("a", 1, 2, 3, Deferred: true), "usage-accepted.v1"));
        Assert.Equal(new UsageApplied("a"), RoundTrip(new UsageApplied("a"), "usage-applied.v1"));
        Assert.Equal(new WriteUsageNow("a"), RoundTrip(new WriteUsageNow("a"), "write-usage-now.v1"));
        Assert.Equal(new GetAccountOverview("a"), RoundTrip(new GetAccountOverview("a"), "get-overview.v1"));
        var command = RoundTrip(new RecordAccountUsage("a", [Record], null, [new KafkaPosition(3, 90)]), "record-usage.v1");
        Assert.Equal(Record, Assert.Single(command.Records));
        Assert.Equal([new KafkaPosition(3, 90)], command.Committed);
    }

    [Fact]
    public void A_v1_snapshot_with_identities_in_full_still_drops_their_duplicates()
    {
        // As v1 wrote it: the window as (source, id) strings, no packed window.
        var account = new Account("a", AccountSettings.Default);
        account.Apply(new UsageRecorded([Record], [new KafkaPosition(3, 99)], 0, T0));
        var v1 = JsonNode.Parse(new AccountSerializer((ExtendedActorSystem)Sys).ToBinary(account.ToSnapshot()))!.AsObject();
        v1.Remove("dedupeWindow");
        v1["dedupe"] = new JsonArray(new JsonObject { ["source"] = Record.Source, ["id"] = Record.EventId, ["expiresAt"] = T0.AddDays(1) });

        var snapshot = (AccountSnapshot)new AccountSerializer((ExtendedActorSystem)Sys).FromBinary(Encoding.UTF8.GetBytes(v1.ToJsonString()), "account-snapshot.v1");
        var restored = Account.FromSnapshot(snapshot, AccountSettings.Default);

        var again = restored.Decide(new RecordUsage([Record with { Position = new KafkaPosition(3, 150) }], T0.AddHours(1)));
        Assert.Equal(new UsageOutcome(0, 1, 0), again.Outcome);
        var other = restored.Decide(new RecordUsage([Record with { EventId = "e-9", Position = new KafkaPosition(3, 151) }], T0.AddHours(1)));
        Assert.Equal(new UsageOutcome(1, 0, 0), other.Outcome);
    }

    [Fact]
    public void Invoice_transitions_and_card_renewals_round_trip_and_older_events_read_with_the_defaults()
    {
        Assert.Equal(new InvoiceVoided("inv_1", T0), RoundTrip(new InvoiceVoided("inv_1", T0), "invoice-voided.v1"));
        Assert.Equal(new InvoiceMarkedUncollectible("inv_1", T0), RoundTrip(new InvoiceMarkedUncollectible("inv_1", T0), "invoice-marked-uncollectible.v1"));
        Assert.Equal(new VoidAccountInvoice("a", "inv_1"), RoundTrip(new VoidAccountInvoice("a", "inv_1"), "void-invoice.v1"));
        Assert.Equal(new MarkAccountInvoiceUncollectible("a", "inv_1"), RoundTrip(new MarkAccountInvoiceUncollectible("a", "inv_1"), "mark-invoice-uncollectible.v1"));
        var request = new PaymentRequested("pur_1", PurchaseKind.Renewal, "a/pur_1", null, 30m, "USD", "pm_1", "tok", 1, T0, "inv_2");
        Assert.Equal(request, RoundTrip(request, "payment-requested.v1"));
        var preferences = RoundTrip(new PreferencesUpdated(Preferences.Default with { RenewalPayment = RenewalPayment.Card }, T0), "preferences-updated.v1");
        Assert.Equal(RenewalPayment.Card, preferences.Preferences.RenewalPayment);

        // Written before these fields existed: a wallet renewal, a charge for no invoice.
        var serializer = new AccountSerializer((ExtendedActorSystem)Sys);
        var old = (PaymentRequested)serializer.FromBinary(Encoding.UTF8.GetBytes(
            """{"purchaseId":"pur_1","kind":1,"gatewayKey":"a/pur_1","clientKey":null,"amount":5,"currency":"USD","paymentMethodId":"pm_1","token":"tok","attempt":1,"at":"2026-01-01T00:00:00+00:00"}"""),
            "payment-requested.v1");
        Assert.Null(old.InvoiceId);
        var written = JsonNode.Parse(serializer.ToBinary(new PreferencesUpdated(Preferences.Default with { RenewalPayment = RenewalPayment.Card }, T0)))!;
        Assert.True(written["preferences"]!.AsObject().Remove("renewalPayment"));
        var oldPreferences = (PreferencesUpdated)serializer.FromBinary(Encoding.UTF8.GetBytes(written.ToJsonString()), "preferences-updated.v1");
        Assert.Equal(RenewalPayment.Wallet, oldPreferences.Preferences.RenewalPayment);
    }

    [Fact]
    public void An_unknown_manifest_is_an_error_not_a_guess()
    {
        var serializer = new AccountSerializer((ExtendedActorSystem)Sys);
        Assert.ThrowsAny<Exception>(() => serializer.FromBinary("{}"u8.ToArray(), "usage-recorded.v0"));
    }
}
