using System.Net;
using System.Text.Json;
using Confluent.Kafka;
using Metering.Ingestion.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Metering.Host.Tests;

/// <summary>Renewals happen on time for an account nobody touches, after it left memory.</summary>
public sealed class DueDateScheduleTests : IDisposable
{
    private readonly TempDir _data = new();
    private readonly EmbeddedKafkaBroker _kafka = TestBackends.StartKafka();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        _kafka.Dispose();
        _data.Dispose();
    }

    [Fact]
    public async Task The_schedule_wakes_a_passivated_account_to_renew_and_invoice()
    {
        const string account = "acct-sleepy";
        await using var host = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers, "metering",
            b => b.Services.AddSingleton<TimeProvider>(_clock),
            "--Metering:Accounts:PassivateAfter=00:00:01", "--Metering:Accounts:ScheduleTick=00:00:00.200");
        await host.SendAsync(HttpMethod.Put, "/api/v1/plans/t-sleepy", new
        {
            id = "t-sleepy", name = "Sleepy", currency = "USD", fee = 3m, interval = "month", quotas = new { }, overage = new { },
        }, HttpStatusCode.Created);
        await host.SendAsync(HttpMethod.Post, $"/api/v1/accounts/{account}/subscriptions", new { planId = "t-sleepy" }, HttpStatusCode.Created);

        // Let the account leave memory, then let a month pass without a single request for it.
        await Task.Delay(TimeSpan.FromSeconds(3));
        _clock.Advance(TimeSpan.FromDays(31));

        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = _kafka.BootstrapServers, GroupId = "schedule-" + Guid.NewGuid(), AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe("metering.notifications");
        var invoices = new HashSet<string>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (invoices.Count < 2 && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is not { } r || r.Message.Key != account) continue;
            var json = JsonDocument.Parse(r.Message.Value).RootElement;
            if (json.GetProperty("type").GetString() == "invoice.created")
                invoices.Add(json.GetProperty("data").GetProperty("invoiceId").GetString()!);
        }
        consumer.Close();

        // The first invoice came with the subscription; the second is the renewal, issued by the schedule's wake-up.
        Assert.Equal(["inv_1", "inv_2"], invoices.Order());
    }
}
