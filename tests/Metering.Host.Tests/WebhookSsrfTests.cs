using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Metering.Domain.Notifications;
using Metering.Host.Notifications;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Metering.Host.Tests;

/// <summary>Webhooks cannot be aimed at what the engine can reach and its customers cannot.</summary>
public sealed class WebhookSsrfTests
{
    private static object Preferences(string url) => new
    {
        billingInfo = new { name = "Acme" },
        notifications = new { renewalReminderDays = 7, invoiceDueReminderDays = 3, channels = new[] { "kafka", "webhook" }, webhookUrl = url, webhookSecret = "whsec_0123456789abcdef" },
    };

    [Theory]
    [InlineData("127.0.0.1", false)]
    [InlineData("127.8.9.10", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("172.16.0.1", false)]
    [InlineData("172.31.255.255", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("224.0.0.1", false)]
    [InlineData("::1", false)]
    [InlineData("::", false)]
    [InlineData("fd00:ec2::254", false)]
    [InlineData("fe80::1", false)]
    [InlineData("::ffff:127.0.0.1", false)]
    [InlineData("::ffff:169.254.169.254", false)]
    [InlineData("8.8.8.8", true)]
    [InlineData("172.32.0.1", true)]
    [InlineData("2606:4700:4700::1111", true)]
    public void Only_public_addresses_are_allowed(string address, bool allowed)
    {
        Assert.Equal(allowed, new WebhookPolicy(new WebhookOptions()).IsAllowed(IPAddress.Parse(address)));
        Assert.True(new WebhookPolicy(new WebhookOptions { AllowPrivateWebhooks = true }).IsAllowed(IPAddress.Parse(address)));
    }

    [Fact]
    public async Task Preferences_refuse_webhooks_to_private_addresses_plain_http_and_names_of_this_machine()
    {
        using var data = new TempDir();
        await using var host = await MeteringHost.StartAsync(data.Path);
        foreach (var url in new[]
                 {
                     "http://example.com/hook", "https://127.0.0.1/hook", "https://169.254.169.254/latest/meta-data/", "https://10.0.0.5/hook",
                     "https://[::1]/hook", "https://[fd12:3456::1]/hook", "https://localhost/hook", "https://api.localhost/hook",
                     "https://user:pass@example.com/hook", "ftp://example.com/hook", "https://0x7f000001/hook",
                 })
        {
            var response = await host.Http.PutAsJsonAsync("/api/v1/accounts/ssrf-acct/preferences", Preferences(url));
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{url}: {(int)response.StatusCode}");
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Contains(problem.GetProperty("errors").EnumerateArray(), e => e.GetProperty("field").GetString() == "notifications.webhookUrl");
        }
        // A public address literal is fine (nothing is called yet).
        Assert.Equal(HttpStatusCode.OK, (await host.Http.PutAsJsonAsync("/api/v1/accounts/ssrf-acct/preferences", Preferences("https://8.8.8.8/hook"))).StatusCode);
    }

    [Fact]
    public async Task At_send_time_the_connection_itself_is_refused_when_the_address_is_private()
    {
        // Stands for a public name that resolves to loopback by the time the webhook is called (DNS rebinding).
        var calls = 0;
        await using var receiver = WebApplication.CreateBuilder(["--urls=http://127.0.0.1:0"]).Build();
        receiver.MapPost("/hook", () => { Interlocked.Increment(ref calls); return Results.Ok(); });
        await receiver.StartAsync();

        using var data = new TempDir();
        await using var host = await MeteringHost.StartAsync(data.Path, extra: "--Metering:Notifications:AllowHttpWebhooks=true");
        var webhooks = host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(nameof(INotificationSink));
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => webhooks.PostAsync(new Uri(new Uri(receiver.Urls.First()), "/hook"), null));
        Assert.IsType<WebhookBlockedException>(refused.InnerException);
        Assert.Equal(0, calls);
    }
}
