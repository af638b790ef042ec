using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Metering.Host.Tests;

/// <summary>Cycles, invoices, documents, preferences and notifications through the running engine, on a fake clock.</summary>
public sealed class InvoicesApiTests : IAsyncLifetime
{
    private readonly TempDir _data = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));
    private MeteringHost _host = null!;

    public async Task InitializeAsync() =>
        _host = await MeteringHost.StartAsync(_data.Path, null, "metering", b => b.Services.AddSingleton<TimeProvider>(_clock));

    public async Task DisposeAsync()
    {
        await _host.DisposeAsync();
        _data.Dispose();
    }

    private static string PdfText(byte[] pdf)
    {
        var file = Path.GetTempFileName();
        File.WriteAllBytes(file, pdf);
        using var process = Process.Start(new ProcessStartInfo("pdftotext", [file, "-"]) { RedirectStandardOutput = true })!;
        var text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        File.Delete(file);
        Assert.Equal(0, process.ExitCode);
        return text;
    }

    [Fact]
    public async Task A_renewal_issues_the_next_invoice_with_overage_and_tax_as_json_pdf_and_html()
    {
        const string account = "acct-inv";
        await _host.SendAsync(HttpMethod.Put, $"/api/v1/accounts/{account}/preferences", new
        {
            billingInfo = new { name = "Acme S.L.", email = "billing@acme.test", address = "Gran Vía 1, Madrid", country = "ES", taxId = "B12345678" },
            notifications = new { renewalReminderDays = 7, invoiceDueReminderDays = 3, channels = new[] { "kafka" } },
        });
        await _host.SendAsync(HttpMethod.Put, "/api/v1/plans/t-monthly", new
        {
            id = "t-monthly", name = "Monthly", currency = "USD", fee = 10m, interval = "month",
            quotas = new { call = 5 }, overage = new { call = new { model = "per_unit", unitPrice = 1m } },
        }, HttpStatusCode.Created);
        await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/payment-methods",
            new { type = "card", number = "4242424242424242", expMonth = 12, expYear = 2031, cvc = "123", holderName = "Ada" }, HttpStatusCode.Created);
        await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/funds", new { amount = 100m, idempotencyKey = "seed" });
        await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/subscriptions", new { planId = "t-monthly" }, HttpStatusCode.Created);

        var events = Enumerable.Range(0, 7).Select(i => new Dictionary<string, object>
        {
            ["specversion"] = "1.0", ["id"] = $"inv-{i}", ["source"] = "crm", ["type"] = "crm.call.completed", ["subject"] = account,
        });
        var posted = await _host.Http.PostAsync("/api/v1/events", new StringContent(JsonSerializer.Serialize(events), Encoding.UTF8, "application/cloudevents-batch+json"));
        Assert.Equal(HttpStatusCode.Accepted, posted.StatusCode);
        await Eventually.TrueAsync(async () => (await _host.OverviewAsync(account)).GetProperty("eventsProcessed").GetInt64() == 7, TimeSpan.FromSeconds(10), "usage not counted");

        _clock.Advance(TimeSpan.FromDays(31));
        await _host.OverviewAsync(account); // the account catches up with the clock: it renews
        var page = await _host.GetEventuallyAsync($"/api/v1/accounts/{account}/invoices", p => p.GetProperty("total").GetInt32() == 3);
        var invoices = page.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal([$"{account}-000003", $"{account}-000002", $"{account}-000001"], invoices.Select(i => i.GetProperty("number").GetString()));
        var renewal = invoices[0];
        // 2 overage calls at 1.00 plus the 10.00 fee, and 21 % Spanish VAT: 12.00 + 2.52.
        Assert.Equal(12m, renewal.GetProperty("subtotal").GetDecimal());
        Assert.Equal(2.52m, renewal.GetProperty("tax").GetDecimal());
        Assert.Equal(14.52m, renewal.GetProperty("total").GetDecimal());
        Assert.Equal("paid", renewal.GetProperty("status").GetString()?.ToLowerInvariant());
        Assert.Equal("receipt", invoices[2].GetProperty("kind").GetString()?.ToLowerInvariant());

        var id = renewal.GetProperty("id").GetString();
        var pdf = await _host.Http.GetAsync($"/api/v1/accounts/{account}/invoices/{id}/pdf");
        Assert.Equal("application/pdf", pdf.Content.Headers.ContentType?.MediaType);
        var bytes = await pdf.Content.ReadAsByteArrayAsync();
        Assert.Equal("%PDF", Encoding.ASCII.GetString(bytes, 0, 4));
        var text = PdfText(bytes);
        Assert.Contains($"Invoice {account}-000003", text);
        Assert.Contains("14.52 USD", text);
        Assert.Contains("Acme S.L.", text);

        var html = await _host.Http.GetStringAsync($"/api/v1/accounts/{account}/invoices/{id}/html");
        Assert.Contains($"Invoice {account}-000003", html);
        Assert.Contains("14.52 USD", html);
        Assert.Contains("@media print", html);

        var subscription = (await _host.GetEventuallyAsync($"/api/v1/accounts/{account}/subscriptions",
            p => p.GetProperty("items").EnumerateArray().Any(s => s.GetProperty("periods").GetArrayLength() == 2))).GetProperty("items")[0];
        var periods = subscription.GetProperty("periods").EnumerateArray().ToList();
        Assert.Equal(2, periods.Count);
        Assert.Equal(id, periods[1].GetProperty("invoiceId").GetString());
        Assert.Equal(0m, subscription.GetProperty("quotas")[0].GetProperty("used").GetDecimal());

        var notifications = (await _host.GetEventuallyAsync($"/api/v1/accounts/{account}/notifications",
                p => p.GetProperty("items").EnumerateArray().Count(n => n.GetProperty("type").GetString() == "invoice.created") == 2)).GetProperty("items").EnumerateArray()
            .Select(n => n.GetProperty("type").GetString()).ToList();
        Assert.Equal(2, notifications.Count(t => t == "invoice.created"));
        Assert.Contains("quota.threshold", notifications);

        Assert.Equal(HttpStatusCode.NotFound, (await _host.Http.GetAsync($"/api/v1/accounts/{account}/invoices/inv_99/pdf")).StatusCode);
    }

    private async Task<JsonElement> InvoiceAsync(string account, string id) => await _host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{account}/invoices/{id}");

    private async Task SubscribeAsync(string account, string planId, decimal fee)
    {
        await _host.SendAsync(HttpMethod.Put, $"/api/v1/plans/{planId}", new
        {
            id = planId, name = planId, currency = "USD", fee, interval = "month", quotas = new { }, overage = new { },
        }, HttpStatusCode.Created);
        await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/subscriptions", new { planId }, HttpStatusCode.Created);
    }

    [Fact]
    public async Task An_open_invoice_can_be_voided_or_marked_uncollectible_once_and_the_documents_say_so()
    {
        const string account = "acct-void";
        // An empty wallet: both plan fees stay due, 10 + 25 pending.
        await SubscribeAsync(account, "t-void-a", 10m);
        await SubscribeAsync(account, "t-void-b", 25m);
        Assert.Equal(35m, (await _host.OverviewAsync(account)).GetProperty("pendingBalance").GetDecimal());

        var voided = await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/invoices/inv_1/void");
        Assert.Equal(("void", 0m), (voided.GetProperty("status").GetString(), voided.GetProperty("amountDue").GetDecimal()));
        Assert.Equal(25m, (await _host.OverviewAsync(account)).GetProperty("pendingBalance").GetDecimal());

        var uncollectible = await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/invoices/inv_2/mark-uncollectible");
        Assert.Equal(("uncollectible", 25m), (uncollectible.GetProperty("status").GetString(), uncollectible.GetProperty("amountDue").GetDecimal()));
        Assert.Equal(25m, (await _host.OverviewAsync(account)).GetProperty("pendingBalance").GetDecimal()); // still owed

        var again = await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/invoices/inv_1/mark-uncollectible", expected: HttpStatusCode.Conflict);
        Assert.Equal("invoice_not_open", again.GetProperty("code").GetString());
        await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/invoices/inv_2/void", expected: HttpStatusCode.Conflict);
        await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/invoices/inv_9/void", expected: HttpStatusCode.NotFound);

        Assert.Contains("void", await _host.Http.GetStringAsync($"/api/v1/accounts/{account}/invoices/inv_1/html"));
        Assert.Contains("uncollectible", PdfText(await _host.Http.GetByteArrayAsync($"/api/v1/accounts/{account}/invoices/inv_2/pdf")));
        // The list trails the account (it is a projection): wait for the voided invoice's notification, then count it.
        var notifications = await _host.GetEventuallyAsync($"/api/v1/accounts/{account}/notifications",
            list => list.GetProperty("items").EnumerateArray().Any(n => n.GetProperty("type").GetString() == "invoice.voided"));
        var types = notifications.GetProperty("items").EnumerateArray().Select(n => n.GetProperty("type").GetString()).ToList();
        Assert.Single(types, t => t == "invoice.voided");
    }

    [Theory]
    [InlineData("4242424242424242", "paid", 10, 0)]
    [InlineData("4000000000000002", "open", 0, 10)]
    public async Task With_renewalPayment_card_a_renewal_is_charged_to_the_default_card_and_a_decline_falls_back_to_the_wallet(
        string cardNumber, string status, decimal balance, decimal due)
    {
        var account = "acct-card-" + cardNumber[^4..];
        await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/payment-methods",
            new { type = "card", number = "4242424242424242", expMonth = 12, expYear = 2031, cvc = "123", holderName = "Ada" }, HttpStatusCode.Created);
        await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/funds", new { amount = 30m, idempotencyKey = "seed" });
        var card = await _host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/payment-methods",
            new { type = "card", number = cardNumber, expMonth = 12, expYear = 2031, cvc = "123", holderName = "Ada", makeDefault = true }, HttpStatusCode.Created);
        Assert.True(card.GetProperty("isDefault").GetBoolean());
        await _host.SendAsync(HttpMethod.Put, $"/api/v1/accounts/{account}/preferences", new
        {
            billingInfo = new { name = "Card renewals" },
            notifications = new { renewalReminderDays = 7, invoiceDueReminderDays = 3, channels = new[] { "kafka" } },
            renewalPayment = "card",
        });
        Assert.Equal("card", (await _host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{account}/preferences")).GetProperty("renewalPayment").GetString());
        await SubscribeAsync(account, "t-card-" + cardNumber[^4..], 20m); // the first period's fee comes from the wallet: 10 left
        Assert.Equal(10m, (await _host.OverviewAsync(account)).GetProperty("balance").GetDecimal());

        _clock.Advance(TimeSpan.FromDays(32));
        JsonElement renewal = default;
        await Eventually.TrueAsync(async () =>
        {
            // Asking the account makes it catch up with the clock (the due-date schedule would, at its next
            // tick); the invoice list is a projection and never wakes it.
            await _host.OverviewAsync(account);
            var items = (await _host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{account}/invoices")).GetProperty("items");
            // The list trails the account (it is a projection): wait for the renewal to reach it.
            if (items.GetArrayLength() != 3) return false;
            renewal = items[0];
            return renewal.GetProperty("status").GetString() == status && renewal.GetProperty("amountDue").GetDecimal() == due;
        }, TimeSpan.FromSeconds(15), "the renewal was never settled");

        // Paid by card: the wallet keeps its 10. Declined: the wallet pays 10 of the 20 and the rest stays due.
        var overview = await _host.OverviewAsync(account);
        Assert.Equal((balance, due), (overview.GetProperty("balance").GetDecimal(), overview.GetProperty("pendingBalance").GetDecimal()));
    }

    [Fact]
    public async Task Invalid_preferences_answer_400_with_the_fields_in_error()
    {
        var problem = await _host.SendAsync(HttpMethod.Put, "/api/v1/accounts/acct-prefs/preferences", new
        {
            billingInfo = new { email = "nope", country = "Spain" },
            notifications = new { renewalReminderDays = 90, invoiceDueReminderDays = 3, channels = new[] { "kafka" } },
        }, HttpStatusCode.BadRequest);
        var fields = problem.GetProperty("errors").EnumerateArray().Select(e => e.GetProperty("field").GetString()).ToList();
        Assert.Equal(["billingInfo.email", "billingInfo.country", "notifications.renewalReminderDays"], fields);

        var stored = await _host.SendAsync(HttpMethod.Get, "/api/v1/accounts/acct-prefs/preferences");
        Assert.Equal(7, stored.GetProperty("notifications").GetProperty("renewalReminderDays").GetInt32());
    }
}
