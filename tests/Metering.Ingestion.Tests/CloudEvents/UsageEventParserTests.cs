using System.Text;
using Metering.Domain.Meters;
using Metering.Domain.Usage;
using Metering.Ingestion.CloudEvents;

namespace Metering.Ingestion.Tests.CloudEvents;

public class UsageEventParserTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
    private static readonly KafkaPosition Position = new(2, 17);

    private static readonly UsageEventParser Parser = new(
        new MeterCatalog([.. MeterCatalog.Default.Meters, new MeterDefinition("call_minutes", "crm.call.minutes", "data.minutes", AllowFractional: true)]),
        UsageEventLimits.Default);

    private static ParsedEvent Parse(string json, string? key = "acct-42") => Parser.Parse(Encoding.UTF8.GetBytes(json), key, Position, Now);

    [Fact]
    public void Reads_a_call_with_its_team_and_user()
    {
        var parsed = Parse("""
            {"specversion":"1.0","id":"e-1","source":"crm/dialer","type":"crm.call.completed","subject":"acct-42",
             "time":"2026-11-27T10:00:00Z","datacontenttype":"application/json","team":"sales",
             "data":{"quantity":2,"durationSeconds":183,"user":"u-7","team":"ignored"}}
            """);

        Assert.True(parsed.IsValid);
        Assert.Equal("acct-42", parsed.AccountId);
        Assert.Equal(new UsageRecord("crm/dialer", "e-1", "call", 2m, new DateTimeOffset(2026, 11, 27, 10, 0, 0, TimeSpan.Zero), "sales", "u-7", Position), parsed.Record);
    }

    [Fact]
    public void Events_of_one_source_share_its_string_and_every_source_reads_as_sent()
    {
        var parser = new UsageEventParser(MeterCatalog.Default, UsageEventLimits.Default);
        string SourceOf(string source) =>
            parser.Parse(Encoding.UTF8.GetBytes($$"""{"specversion":"1.0","id":"e","source":"{{source}}","type":"crm.lead.created","subject":"acct-42"}"""), "acct-42", Position, Now).Record!.Source;

        Assert.Same(SourceOf("crm/web"), SourceOf("crm/web"));
        // Far more sources than the table has places, each read back after others took its place.
        var sources = Enumerable.Range(0, 1_000).Select(i => $"crm/{i}").ToList();
        foreach (var source in sources.Concat(sources).Concat(Enumerable.Reverse(sources)))
            Assert.Equal(source, SourceOf(source));
        Assert.Equal("crm/é", SourceOf("crm/é"));
        Assert.Equal(new string('s', 400), SourceOf(new string('s', 400)));
    }

    [Fact]
    public void Quantity_defaults_to_one_time_to_now_and_team_comes_from_data()
    {
        var parsed = Parse("""{"specversion":"1.0","id":"e-2","source":"crm","type":"crm.lead.created","subject":"acct-42","data":{"team":"north"}}""");
        Assert.Equal(1m, parsed.Record!.Quantity);
        Assert.Equal(Now, parsed.Record.OccurredAt);
        Assert.Equal("north", parsed.Record.Team);
        Assert.Null(parsed.Record.User);
    }

    [Fact]
    public void A_configured_meter_reads_its_own_path_and_may_be_fractional()
    {
        var parsed = Parse("""{"specversion":"1.0","id":"e-3","source":"crm","type":"crm.call.minutes","subject":"acct-42","data":{"minutes":3.05}}""");
        Assert.Equal("call_minutes", parsed.Record!.Meter);
        Assert.Equal(3.05m, parsed.Record.Quantity);
    }

    [Theory]
    [InlineData("crm.lead.created", "lead")]
    [InlineData("crm.call.completed", "call")]
    [InlineData("crm.email.sent", "email")]
    [InlineData("crm.email\\u002esent", "email")] // JSON escapes name the same type
    [InlineData("crm.email.sent.", null)]
    [InlineData("CRM.email.sent", null)]
    public void The_type_picks_the_meter_exactly(string type, string? meter)
    {
        var parsed = Parse($$"""{"specversion":"1\u002e0","id":"e-t","source":"crm","type":"{{type}}","subject":"acct-42","datacontenttype":"application/json; charset=utf-8"}""");
        Assert.Equal(meter, parsed.Record?.Meter);
        if (meter is null) Assert.Equal("unknown_type", parsed.Rejection!.Code);
        else Assert.Equal("acct-42", parsed.AccountId);
    }

    [Fact]
    public void A_repeated_member_counts_once_the_last_time_it_appears()
    {
        var parsed = Parse("""
            {"specversion":"0.3","specversion":"1.0","id":"e-1","id":"e-2","source":"crm","type":"crm.call.minutes","subject":"acct-42",
             "data":{"minutes":9,"user":"u-1"},"data":{"minutes":1.5,"minutes":2.5,"team":"t-1","team":"t-2"}}
            """);
        Assert.Equal(new UsageRecord("crm", "e-2", "call_minutes", 2.5m, Now, "t-2", null, Position), parsed.Record);
    }

    [Fact]
    public void Escaped_member_names_and_values_read_as_their_text()
    {
        var parsed = Parse("""
            {"sp\u0065cversion":"1.0","\u0069d":"e-\u00e9","source":"crm\/dialer","typ\u0065":"crm.call.minutes","subject":"acct\u002d42",
             "d\u0061ta":{"min\u0075tes":0.5,"us\u0065r":"\u00fcber"}}
            """);
        Assert.Equal(new UsageRecord("crm/dialer", "e-é", "call_minutes", 0.5m, Now, null, "über", Position), parsed.Record);
        Assert.Equal("acct-42", parsed.AccountId);
    }

    [Fact]
    public void A_quantity_is_read_at_any_depth_below_data_and_outside_it()
    {
        var parser = new UsageEventParser(
            new MeterCatalog([new MeterDefinition("deep", "crm.deep", "data.call.seconds"), new MeterDefinition("top", "crm.top", "units")]),
            UsageEventLimits.Default);
        ParsedEvent Read(string type, string members) => parser.Parse(Encoding.UTF8.GetBytes(
            $$"""{"specversion":"1.0","id":"e","source":"s","type":"{{type}}","subject":"acct-42",{{members}}}"""), null, Position, Now);

        Assert.Equal(30m, Read("crm.deep", """ "data":{"call":{"seconds":30}} """).Record!.Quantity);
        Assert.Equal(1m, Read("crm.deep", """ "data":{"call":7} """).Record!.Quantity);
        Assert.Equal("invalid_quantity", Read("crm.deep", """ "data":{"call":{"seconds":"30"}} """).Rejection!.Code);
        Assert.Equal(4m, Read("crm.top", """ "units":4,"data":{"units":5} """).Record!.Quantity);
    }

    [Theory]
    [InlineData("""{"specversion":"0.3","id":"e-9","id":"e-\u0031\u0030"}""", "e-10")]
    [InlineData("""{"specversion":"1.0","data":{"id":"inner"}}""", null)]
    [InlineData("""{"id":7}""", null)]
    [InlineData("""{"id":"\ud800"}""", null)]
    [InlineData("""["id"]""", null)]
    [InlineData("""{"id":"e-1" """, null)]
    public void A_refused_event_is_named_by_its_own_top_level_id_when_it_has_one(string json, string? id) =>
        Assert.Equal(id, UsageEventParser.IdOf(Encoding.UTF8.GetBytes(json)));

    [Fact]
    public void Without_a_key_the_subject_routes_the_event()
    {
        var parsed = Parse("""{"specversion":"1.0","id":"e-4","source":"crm","type":"crm.email.sent","subject":"acct-7"}""", key: null);
        Assert.Equal("acct-7", parsed.AccountId);
    }

    [Theory]
    [InlineData("""{"specversion":"1.0","id":""", "malformed_json")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42"} {"more":1}""", "malformed_json")]
    [InlineData("""[1,2]""", "not_an_object")]
    [InlineData("""{"specversion":"0.3","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42"}""", "invalid_specversion")]
    [InlineData("""{"specversion":"1.0","source":"s","type":"crm.lead.created","subject":"acct-42"}""", "invalid_id")]
    [InlineData("""{"specversion":"1.0","id":"e","type":"crm.lead.created","subject":"acct-42"}""", "invalid_source")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","subject":"acct-42"}""", "invalid_type")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.deal.won","subject":"acct-42"}""", "unknown_type")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created"}""", "missing_subject")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct 42"}""", "invalid_subject")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-43"}""", "subject_key_mismatch")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","datacontenttype":"text/xml"}""", "invalid_datacontenttype")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","time":"yesterday"}""", "invalid_time")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","time":"2026-12-30T00:00:00Z"}""", "time_in_future")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","time":"2025-10-01T00:00:00Z"}""", "time_too_old")]
    [InlineData("""{"specversion":"1.0","id":"e\u0000","source":"s","type":"crm.lead.created","subject":"acct-42"}""", "invalid_id")]
    [InlineData("""{"specversion":"1.0","id":"e\ud800","source":"s","type":"crm.lead.created","subject":"acct-42"}""", "invalid_id")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s\u202e","type":"crm.lead.created","subject":"acct-42"}""", "invalid_source")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","time":"\ud800"}""", "invalid_time")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","time":"2026-02-30T00:00:00Z"}""", "invalid_time")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","data":"x"}""", "invalid_data")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","data":{"quantity":"3"}}""", "invalid_quantity")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","data":{"quantity":0}}""", "invalid_quantity")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","data":{"quantity":-1}}""", "invalid_quantity")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","data":{"quantity":1e300}}""", "invalid_quantity")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","data":{"quantity":1000001}}""", "quantity_too_large")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","data":{"quantity":1.5}}""", "fractional_quantity")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","team":7}""", "invalid_team")]
    [InlineData("""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","data":{"user":["u"]}}""", "invalid_user")]
    public void Refuses_invalid_events_with_a_stable_reason(string json, string code)
    {
        var parsed = Parse(json);
        Assert.False(parsed.IsValid);
        Assert.Equal(code, parsed.Rejection!.Code);
        Assert.False(string.IsNullOrWhiteSpace(parsed.Rejection.Detail));
    }

    [Theory]
    [InlineData("2026-11-27T11:30:00.25+01:00", "2026-11-27T10:30:00.2500000+00:00")] // read from the bytes
    [InlineData("2026-11-27T10:30:00.123456789Z", "2026-11-27T10:30:00.1234568+00:00")] // the general parser's: rounded to a tick
    [InlineData("2026-11-27T10:30:00", "2026-11-27T10:30:00.0000000+00:00")] // the general parser's: no zone is UTC
    [InlineData(@"2026-11-27T10:30:00\u002B00:00", "2026-11-27T10:30:00.0000000+00:00")] // escaped: the general parser's
    public void Reads_the_time_as_UTC_whichever_parser_takes_it(string time, string utc)
    {
        var parsed = Parse($$"""{"specversion":"1.0","id":"e","source":"s","type":"crm.lead.created","subject":"acct-42","time":"{{time}}"}""");
        Assert.True(parsed.IsValid, parsed.Rejection?.Detail);
        Assert.Equal(utc, parsed.Record!.OccurredAt.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
    }
}
