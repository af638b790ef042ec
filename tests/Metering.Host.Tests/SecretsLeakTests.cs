using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Metering.Host.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Metering.Host.Tests;

/// <summary>
/// A whole billing flow (keys, a page session, a card, funds, a signed webhook), then a search of
/// every log line, every file in the data folder (SQLite journal with its WAL, the sandbox gateway's
/// database, generated keys) and every answer for the card number, the CVC, key and session secrets and
/// the webhook secret. None may be there.
/// </summary>
public sealed class SecretsLeakTests
{
    private const string CardNumber = "4000056655665556";
    private const string Cvc = "9371"; // four digits are not a Visa CVC; the test card below is Amex
    private const string AmexNumber = "378282246310005";
    private const string WebhookSecret = "whsec_Leak-Test-5e1f0c2b9a7d4e38";

    [Fact]
    public async Task No_card_number_cvc_key_or_webhook_secret_is_logged_stored_or_answered()
    {
        var logs = new ConcurrentQueue<CapturedLog>();
        var answers = new ConcurrentQueue<string>();
        var webhookCalls = 0;
        await using var receiver = WebApplication.CreateBuilder(["--urls=http://127.0.0.1:0"]).Build();
        receiver.MapPost("/hook", () => { Interlocked.Increment(ref webhookCalls); return Results.Ok(); });
        await receiver.StartAsync();

        using var data = new TempDir();
        var secrets = new List<string> { WebhookSecret };
        string? csrf = null;
        await using (var host = await MeteringHost.StartAsync(data.Path, null, "metering",
                         b => b.Logging.AddProvider(new CapturingLoggerProvider(logs)),
                         "--Logging:LogLevel:Default=Debug", "--Metering:Notifications:AllowPrivateWebhooks=true", "--Metering:Notifications:AllowHttpWebhooks=true"))
        {
            async Task<JsonElement> Call(HttpClient client, HttpMethod method, string path, object? body, HttpStatusCode expected, bool answerHoldsSecret = false)
            {
                using var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
                if (csrf is not null && method != HttpMethod.Get) request.Headers.Add(ApiCaller.CsrfHeader, csrf);
                using var response = await client.SendAsync(request);
                var text = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == expected, $"{method} {path}: {(int)response.StatusCode} {text}");
                // The one answer that must carry a secret: a new key, shown once.
                if (!answerHoldsSecret) answers.Enqueue(text + string.Join("\n", response.Headers.Where(h => h.Key != "Set-Cookie").SelectMany(h => h.Value)));
                return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
            }

            const string account = "leak-acct";
            var created = await Call(host.Http, HttpMethod.Post, "/api/v1/keys", new { name = "page", scopes = new[] { "account:read", "account:write" }, accountId = account },
                HttpStatusCode.Created, answerHoldsSecret: true);
            var key = created.GetProperty("secret").GetString()!;
            secrets.Add(key);
            var ingest = await Call(host.Http, HttpMethod.Post, "/api/v1/keys", new { name = "crm", scopes = new[] { "ingest" }, accountId = account },
                HttpStatusCode.Created, answerHoldsSecret: true);
            secrets.Add(ingest.GetProperty("secret").GetString()!);

            // The page's way in: a session cookie for the key, then everything through it.
            var cookies = new CookieContainer();
            using var browser = new HttpClient(new HttpClientHandler { CookieContainer = cookies }) { BaseAddress = host.Http.BaseAddress };
            var session = await Call(browser, HttpMethod.Post, "/session", new { key }, HttpStatusCode.OK);
            secrets.Add(cookies.GetCookies(host.Http.BaseAddress!)[ApiAuthentication.SessionCookie]!.Value);
            csrf = session.GetProperty("csrfToken").GetString()!;

            var hook = new Uri(new Uri(receiver.Urls.First()), "/hook").ToString();
            await Call(browser, HttpMethod.Put, $"/api/v1/accounts/{account}/preferences", new
            {
                billingInfo = new { name = "Leak Test" },
                notifications = new { renewalReminderDays = 7, invoiceDueReminderDays = 3, lowBalanceThreshold = 1000m, channels = new[] { "kafka", "webhook" }, webhookUrl = hook, webhookSecret = WebhookSecret },
            }, HttpStatusCode.OK);
            var card = await Call(browser, HttpMethod.Post, $"/api/v1/accounts/{account}/payment-methods",
                new { type = "card", number = AmexNumber, expMonth = 12, expYear = DateTime.UtcNow.Year + 2, cvc = Cvc, holderName = "Leak Test", makeDefault = true }, HttpStatusCode.Created);
            await Call(browser, HttpMethod.Post, $"/api/v1/accounts/{account}/payment-methods",
                new { type = "card", number = CardNumber, expMonth = 11, expYear = DateTime.UtcNow.Year + 3, cvc = "123", holderName = "Leak Test" }, HttpStatusCode.Created);
            await Call(browser, HttpMethod.Post, $"/api/v1/accounts/{account}/payment-methods",
                new { type = "card", number = "4000000000000002", expMonth = 11, expYear = DateTime.UtcNow.Year + 3, cvc = Cvc[..3], holderName = "Declined" }, HttpStatusCode.Created);
            await Call(browser, HttpMethod.Post, $"/api/v1/accounts/{account}/payment-methods",
                new { type = "card", number = AmexNumber[..^1] + "1", expMonth = 12, expYear = DateTime.UtcNow.Year + 2, cvc = Cvc, holderName = "Typo" }, HttpStatusCode.BadRequest);
            await Call(browser, HttpMethod.Post, $"/api/v1/accounts/{account}/funds",
                new { amount = 25m, paymentMethodId = card.GetProperty("id").GetString(), idempotencyKey = "leak-1" }, HttpStatusCode.OK);
            foreach (var path in new[] { "overview", "payment-methods", "preferences", "invoices", "ledger", "notifications", "subscriptions" })
                await Call(browser, HttpMethod.Get, $"/api/v1/accounts/{account}/{path}", null, HttpStatusCode.OK);
            await Call(host.Http, HttpMethod.Get, "/api/v1/keys", null, HttpStatusCode.OK);
            await Eventually.TrueAsync(() => Task.FromResult(webhookCalls > 0), TimeSpan.FromSeconds(15), "the signed webhook was never called");
        }

        string[] needles = [CardNumber, AmexNumber, $"\"{Cvc}\"", "\"cvc\"", .. secrets];
        foreach (var needle in needles)
        {
            Assert.DoesNotContain(logs, log => log.Text.Contains(needle, StringComparison.OrdinalIgnoreCase));
            Assert.DoesNotContain(answers, text => text.Contains(needle, StringComparison.OrdinalIgnoreCase));
        }
        var files = Directory.GetFiles(data.Path, "*", SearchOption.AllDirectories);
        Assert.Contains(files, f => f.EndsWith("metering.db"));
        Assert.Contains(files, f => f.EndsWith("sandbox-gateway.db"));
        foreach (var file in files)
        {
            var bytes = await File.ReadAllBytesAsync(file);
            foreach (var needle in needles)
            {
                Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(needle)) < 0, $"{Path.GetFileName(file)} holds {needle}");
                Assert.True(bytes.AsSpan().IndexOf(Encoding.Unicode.GetBytes(needle)) < 0, $"{Path.GetFileName(file)} holds {needle} (UTF-16)");
            }
        }
        Assert.NotEmpty(logs);
    }
}
