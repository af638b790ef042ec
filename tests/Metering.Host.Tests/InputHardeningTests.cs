using Metering.Tests.Shared;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Metering.Host.Tests;

/// <summary>
/// Every class of bad input over HTTP gets a 4xx problem (RFC 9457) with a stable <c>code</c>, and is
/// counted in <c>metering.api.rejected{reason}</c>. The table in docs/reliability.md points here.
/// </summary>
public sealed class InputHardeningTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    private MeteringHost Host => fixture.Host;

    private static string Event(string id = "ih-1", string subject = "ih-acct", string type = "crm.lead.created", string data = """{"quantity":1}""",
        string time = "") =>
        $$$"""{"specversion":"1.0","id":"{{{id}}}","source":"crm/test","type":"{{{type}}}","subject":"{{{subject}}}"{{{time}}},"data":{{{data}}}}""";

    private async Task<JsonElement> RefusedAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(code, problem.GetProperty("code").GetString());
        // The exporter caches a scrape for a moment.
        await Eventually.TrueAsync(async () => (await PrometheusScrape.FromAsync(Host)).Sum("metering_api_rejected_total", ("reason", code)) >= 1,
            TimeSpan.FromSeconds(5), $"metering.api.rejected{{reason={code}}} not counted");
        return problem;
    }

    /// <summary>A body of declared length that stops for a moment after its first 64 KB.</summary>
    private sealed class PausingContent : HttpContent
    {
        private const int FirstPart = 64 * 1024;
        private readonly byte[] _body;

        public PausingContent(byte[] body, string mediaType)
        {
            _body = body;
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(mediaType);
        }

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(_body.AsMemory(0, FirstPart));
            await stream.FlushAsync();
            await Task.Delay(500);
            await stream.WriteAsync(_body.AsMemory(FirstPart));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = _body.Length;
            return true;
        }
    }

    private Task<HttpResponseMessage> PostEventsAsync(string body, string mediaType = "application/cloudevents+json") =>
        Host.Http.PostAsync("/api/v1/events", new StringContent(body, Encoding.UTF8, mediaType));

    public static TheoryData<string, string> BadEvents => new()
    {
        { """{"id":"x","source":"s","type":"crm.lead.created","subject":"ih-acct"}""", "invalid_specversion" },
        { """{"specversion":"1.0","source":"s","type":"crm.lead.created","subject":"ih-acct"}""", "invalid_id" },
        { """{"specversion":"1.0","id":"x","type":"crm.lead.created","subject":"ih-acct"}""", "invalid_source" },
        { """{"specversion":"1.0","id":"x","source":"s","subject":"ih-acct"}""", "invalid_type" },
        { """{"specversion":"1.0","id":"x","source":"s","type":"crm.lead.created"}""", "missing_subject" },
        { Event(type: "crm.deal.won"), "unknown_type" },
        { Event(data: """{"quantity":0}"""), "invalid_quantity" },
        { Event(data: """{"quantity":-3}"""), "invalid_quantity" },
        { Event(data: """{"quantity":"7"}"""), "invalid_quantity" },
        { Event(data: """{"quantity":1e300}"""), "invalid_quantity" },
        { Event(data: """{"quantity":2.5}"""), "fractional_quantity" },
        { Event(data: """{"quantity":1000000000}"""), "quantity_too_large" },
        { Event(time: ""","time":"2099-01-01T00:00:00Z" """), "time_in_future" },
        { Event(time: ""","time":"2001-01-01T00:00:00Z" """), "time_too_old" },
        { Event(time: ""","time":"not a time" """), "invalid_time" },
        { Event(id: "bell\\u0007"), "invalid_id" },
        { Event(id: "rtl\\u202eexe.txt"), "invalid_id" },
        { Event(id: "lone\\ud800surrogate"), "invalid_id" },
        { Event(subject: "ih'; DROP TABLE journal;--"), "invalid_subject" },
        { Event(subject: "<script>alert(1)</script>"), "invalid_subject" },
        { Event(data: """{"quantity":1,"user":"line\nbreak"}"""), "invalid_user" },
        { Event(data: "\"not an object\""), "invalid_data" },
    };

    [Theory]
    [MemberData(nameof(BadEvents))]
    public async Task A_bad_event_is_refused_with_its_code(string body, string code)
    {
        var problem = await RefusedAsync(await PostEventsAsync(body), HttpStatusCode.BadRequest, code);
        Assert.Equal(code, problem.GetProperty("errors")[0].GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("text/plain", "{}", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type")]
    [InlineData("application/xml", "<event/>", HttpStatusCode.UnsupportedMediaType, "unsupported_media_type")]
    [InlineData("application/cloudevents+json", "{\"specversion\":", HttpStatusCode.BadRequest, "malformed_json")]
    [InlineData("application/cloudevents+json", "\u0000\u00ff\u0013garbage", HttpStatusCode.BadRequest, "malformed_json")]
    [InlineData("application/cloudevents+json", "[]", HttpStatusCode.BadRequest, "wrong_shape")]
    [InlineData("application/cloudevents-batch+json", "[]", HttpStatusCode.BadRequest, "empty_batch")]
    public async Task A_bad_request_body_is_refused(string mediaType, string body, HttpStatusCode status, string code) =>
        await RefusedAsync(await PostEventsAsync(body, mediaType), status, code);

    [Fact]
    public async Task Oversized_payloads_and_batches_and_duplicate_ids_are_refused()
    {
        var huge = Event(data: $$"""{"quantity":1,"pad":"{{new string('x', 1_100_000)}}"}""");
        // Sent with a pause after the first part, as a slow client would: the 413 goes out while the
        // body is still coming, and the client must still get to read it (not a broken pipe).
        await RefusedAsync(await Host.Http.PostAsync("/api/v1/events", new PausingContent(Encoding.UTF8.GetBytes(huge), "application/cloudevents+json")),
            HttpStatusCode.RequestEntityTooLarge, "payload_too_large");

        var tooMany = "[" + string.Join(",", Enumerable.Range(0, 1_001).Select(i => Event(id: $"many-{i}"))) + "]";
        await RefusedAsync(await PostEventsAsync(tooMany, "application/cloudevents-batch+json"), HttpStatusCode.RequestEntityTooLarge, "batch_too_large");

        var duplicates = $"[{Event(id: "dup-1")},{Event(id: "dup-1")}]";
        var problem = await RefusedAsync(await PostEventsAsync(duplicates, "application/cloudevents-batch+json"), HttpStatusCode.BadRequest, "duplicate_in_batch");
        Assert.Equal(1, problem.GetProperty("errors")[0].GetProperty("index").GetInt32());
    }

    [Theory]
    [InlineData("%3Cscript%3E")]
    [InlineData("a'b")]
    [InlineData("..%2F..%2Fetc")]
    [InlineData("acct%0Ainjected")]
    [InlineData("%E2%80%AEacct")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    public async Task Account_ids_outside_the_rule_are_refused(string id)
    {
        var response = await Host.Http.GetAsync($"/api/v1/accounts/{id}/overview");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Theory]
    [InlineData(-10, "invalid_amount")]
    [InlineData(0, "invalid_amount")]
    [InlineData(10.001, "invalid_amount")]
    [InlineData(1e15, "invalid_amount")]
    public async Task Invalid_money_amounts_are_refused(double amount, string code)
    {
        await Host.SendAsync(HttpMethod.Post, "/api/v1/accounts/ih-money/payment-methods",
            new { type = "card", number = "4242424242424242", expMonth = 12, expYear = DateTime.UtcNow.Year + 2, cvc = "123", holderName = "Ada", makeDefault = true },
            HttpStatusCode.Created);
        var response = await Host.Http.PostAsJsonAsync("/api/v1/accounts/ih-money/funds", new { amount = (decimal)amount, idempotencyKey = $"ih-{amount}" });
        await RefusedAsync(response, HttpStatusCode.BadRequest, code);
    }

    [Fact]
    public async Task Money_that_is_not_a_number_is_refused()
    {
        var response = await Host.Http.PostAsync("/api/v1/accounts/ih-money/funds",
            new StringContent("""{"amount":"ten","idempotencyKey":"ih-text"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("4242424242424241", "123", 12, "invalid_number")]
    [InlineData("4242424242424242", "12", 12, "invalid_cvc")]
    [InlineData("4242424242424242", "123", 13, "invalid_expiry")]
    public async Task Invalid_cards_are_refused_and_never_echoed(string number, string cvc, int month, string code)
    {
        var response = await Host.Http.PostAsJsonAsync("/api/v1/accounts/ih-cards/payment-methods",
            new { type = "card", number, expMonth = month, expYear = DateTime.UtcNow.Year + 2, cvc, holderName = "Ada" });
        var problem = await RefusedAsync(response, HttpStatusCode.BadRequest, code);
        Assert.DoesNotContain(number, problem.GetRawText());
    }

    [Fact]
    public async Task Names_with_control_characters_are_refused_and_markup_is_only_ever_text()
    {
        var response = await Host.Http.PutAsJsonAsync("/api/v1/accounts/ih-names/preferences", new
        {
            billingInfo = new { name = "Acme\u0000\u001b[31m" },
            notifications = new { renewalReminderDays = 7, invoiceDueReminderDays = 3, channels = new[] { "kafka" } },
        });
        await RefusedAsync(response, HttpStatusCode.BadRequest, "invalid_preferences");

        // Markup is a legal name; it comes back as JSON text and is escaped in the printable invoice.
        const string markup = "<script>alert(1)</script>";
        await Host.SendAsync(HttpMethod.Put, "/api/v1/accounts/ih-names/preferences", new
        {
            billingInfo = new { name = markup },
            notifications = new { renewalReminderDays = 7, invoiceDueReminderDays = 3, channels = new[] { "kafka" } },
        });
        await Host.SendAsync(HttpMethod.Post, "/api/v1/accounts/ih-names/payment-methods",
            new { type = "card", number = "4242424242424242", expMonth = 12, expYear = DateTime.UtcNow.Year + 2, cvc = "123", holderName = markup, makeDefault = true },
            HttpStatusCode.Created);
        await Host.SendAsync(HttpMethod.Post, "/api/v1/accounts/ih-names/funds", new { amount = 5m, idempotencyKey = "ih-names" });
        // The list trails the account (it is a projection): wait for the receipt.
        var invoices = await Host.GetEventuallyAsync("/api/v1/accounts/ih-names/invoices", list => list.GetProperty("items").GetArrayLength() > 0);
        var id = invoices.GetProperty("items")[0].GetProperty("id").GetString();
        var html = await Host.Http.GetStringAsync($"/api/v1/accounts/ih-names/invoices/{id}/html");
        Assert.DoesNotContain(markup, html);
        Assert.Contains("&lt;script&gt;", html);

        var plan = await Host.Http.PutAsJsonAsync("/api/v1/plans/ih-plan", new
        {
            id = "ih-plan", name = "Plan\u0007", currency = "USD", fee = 1m, interval = "month", quotas = new { }, overage = new { },
        });
        Assert.Equal(HttpStatusCode.BadRequest, plan.StatusCode);
    }
}
