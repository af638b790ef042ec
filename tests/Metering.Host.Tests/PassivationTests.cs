using System.Text;
using Akka.Actor;
using Akka.Cluster.Sharding;
using Akka.Hosting;
using Metering.Accounts;
using Microsoft.Extensions.DependencyInjection;
using Metering.Tests.Shared;

namespace Metering.Host.Tests;

public sealed class PassivationTests
{
    private static async Task<int> LiveAccountsAsync(MeteringHost host)
    {
        var region = await host.Services.GetRequiredService<IRequiredActor<AccountRegion>>().GetAsync();
        var state = await region.Ask<CurrentShardRegionState>(GetShardRegionState.Instance, TimeSpan.FromSeconds(5));
        return state.Shards.Sum(s => s.EntityIds.Count);
    }

    [Fact]
    public async Task An_idle_account_leaves_memory_and_comes_back_from_the_journal_unchanged()
    {
        using var data = new TempDir();
        await using var host = await MeteringHost.StartAsync(data.Path, extra: "--Metering:Accounts:PassivateAfter=00:00:01");

        const string body = """{"specversion":"1.0","id":"p-1","source":"crm","type":"crm.email.sent","subject":"acct-idle","data":{"quantity":12}}""";
        var response = await host.Http.PostAsync("/api/v1/events", new StringContent(body, Encoding.UTF8, "application/cloudevents+json"));
        response.EnsureSuccessStatusCode();
        await Eventually.TrueAsync(async () => (await host.OverviewAsync("acct-idle")).GetProperty("usage").GetProperty("email").GetDecimal() == 12,
            TimeSpan.FromSeconds(10), "usage never arrived");
        Assert.Equal(1, await LiveAccountsAsync(host));

        await Eventually.TrueAsync(async () => await LiveAccountsAsync(host) == 0, TimeSpan.FromSeconds(15), "the idle account was never passivated");

        var overview = await host.OverviewAsync("acct-idle");
        Assert.Equal(12m, overview.GetProperty("usage").GetProperty("email").GetDecimal());
        Assert.Equal(1, overview.GetProperty("eventsProcessed").GetInt64());

        // Started twice from the journal (first message, then after passivation), stopped at least once.
        var scrape = await PrometheusScrape.FromAsync(host);
        Assert.Equal(2, scrape.Sum("metering_accounts_recovery_duration_seconds_count"));
        Assert.True(scrape.Sum("metering_accounts_recovery_duration_seconds_sum") > 0);
        Assert.InRange(scrape.Sum("metering_accounts_passivations_total"), 1, 2);
    }
}
