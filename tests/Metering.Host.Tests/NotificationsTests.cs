using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Metering.Host.Notifications;
using Metering.Ingestion.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Metering.Tests.Shared;

namespace Metering.Host.Tests;

/// <summary>Notifications reach the Kafka topic and a real signed webhook, once per cause, across restarts.</summary>
public sealed class NotificationsTests : IAsyncLifetime
{
    private const string Secret = "whsec_0123456789abcdef";
    private readonly TempDir _data = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));
    private readonly EmbeddedKafkaBroker _kafka = TestBackends.StartKafka();
    private readonly ConcurrentBag<(string Type, string Id)> _received = [];
    private WebApplication _receiver = null!;

    public async Task InitializeAsync()
    {
        // A webhook receiver as a customer would write one: it checks the signature before trusting the body.
        _receiver = WebApplication.CreateBuilder(["--urls=http://127.0.0.1:0"]).Build();
        _receiver.MapPost("/hook", async (HttpRequest request) =>
        {
            using var buffer = new MemoryStream();
            await request.Body.CopyToAsync(buffer);
            var body = buffer.ToArray();
            var header = request.Headers[NotificationSender.SignatureHeader].ToString();
            var timestamp = long.Parse(header.Split(',')[0]["t=".Length..]);
            if (header != NotificationSender.Sign(Secret, timestamp, body)) return Results.Unauthorized();
            var json = JsonDocument.Parse(body).RootElement;
            _received.Add((json.GetProperty("type").GetString()!, json.GetProperty("id").GetString()!));
            return Results.Ok();
        });
        await _receiver.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _receiver.DisposeAsync();
        _kafka.Dispose();
        _data.Dispose();
    }

    // The receiver listens on plain http on loopback, which webhooks may reach only when allowed.
    private Task<MeteringHost> StartHostAsync() =>
        MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers, "metering", b => b.Services.AddSingleton<TimeProvider>(_clock),
            "--Metering:Notifications:AllowPrivateWebhooks=true", "--Metering:Notifications:AllowHttpWebhooks=true");

    /// <summary>Reads the topic until <paramref name="expected"/> records came and a quiet second followed (or 30 s passed).</summary>
    private List<(string Type, string Id)> KafkaNotifications(int expected)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = _kafka.BootstrapServers, GroupId = "n-" + Guid.NewGuid(), AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe("metering.notifications");
        var found = new List<(string, string)>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is not { } r)
            {
                if (found.Count >= expected) break;
                continue;
            }
            var json = JsonDocument.Parse(r.Message.Value).RootElement;
            found.Add((json.GetProperty("type").GetString()!, json.GetProperty("id").GetString()!));
        }
        consumer.Close();
        return found;
    }

    [Fact]
    public async Task Reminders_and_invoice_notifications_arrive_once_on_kafka_and_the_signed_webhook_even_after_a_restart()
    {
        const string account = "acct-notify";
        var hook = new Uri(new Uri(_receiver.Urls.First()), "/hook").ToString();
        await using (var host = await StartHostAsync())
        {
            await host.SendAsync(HttpMethod.Put, $"/api/v1/accounts/{account}/preferences", new
            {
                billingInfo = new { name = "Acme" },
                notifications = new { renewalReminderDays = 7, invoiceDueReminderDays = 3, channels = new[] { "kafka", "webhook" }, webhookUrl = hook, webhookSecret = Secret },
            });
            await host.SendAsync(HttpMethod.Put, "/api/v1/plans/t-notify", new
            {
                id = "t-notify", name = "Notify", currency = "USD", fee = 10m, interval = "month", quotas = new { }, overage = new { },
            }, HttpStatusCode.Created);
            await host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/subscriptions", new { planId = "t-notify" }, HttpStatusCode.Created);

            // The wallet is empty: the invoice stays open. 7 days before the renewal, and 3 before the due date, reminders come.
            _clock.Advance(TimeSpan.FromDays(24));
            await host.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{account}/overview");
            await Eventually.TrueAsync(() => Task.FromResult(_received.Count(r => r.Type == "renewal.upcoming") == 1), TimeSpan.FromSeconds(15), "no renewal reminder on the webhook");

            // Each channel took each notification once, and none failed (counted once the webhook answered).
            PrometheusScrape scrape = null!;
            await Eventually.TrueAsync(async () =>
            {
                scrape = await PrometheusScrape.FromAsync(host);
                return scrape.Sum("metering_notifications_delivered_total", ("channel", "webhook"), ("type", "renewal.upcoming")) == 1;
            }, TimeSpan.FromSeconds(10), "the webhook delivery was not counted");
            foreach (var channel in new[] { "kafka", "webhook" })
            foreach (var type in new[] { "invoice.created", "renewal.upcoming" })
                Assert.Equal(1, scrape.Sum("metering_notifications_delivered_total", ("channel", channel), ("type", type)));
            Assert.Equal(0, scrape.Sum("metering_notifications_failed_total"));
        }

        await using (var again = await StartHostAsync())
        {
            await again.SendAsync(HttpMethod.Get, $"/api/v1/accounts/{account}/overview");
            await Task.Delay(2_000);
        }

        var webhook = _received.ToList();
        var kafka = KafkaNotifications(webhook.Count);
        foreach (var type in new[] { "invoice.created", "invoice.due_soon", "invoice.overdue", "renewal.upcoming" })
        {
            Assert.Equal(1, webhook.Count(r => r.Type == type));
            Assert.Equal(1, kafka.Count(r => r.Type == type));
        }
        Assert.Equal(webhook.Select(r => r.Id).Order(), kafka.Select(r => r.Id).Order());
    }
}
