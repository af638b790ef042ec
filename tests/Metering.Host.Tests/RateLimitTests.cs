using Metering.Tests.Shared;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Metering.Host.Auth;

namespace Metering.Host.Tests;

/// <summary>Each key has its own bucket; an empty bucket answers 429 with Retry-After and problem details.</summary>
public sealed class RateLimitTests
{
    [Fact]
    public async Task A_key_over_its_limit_gets_429_with_retry_after_while_another_key_goes_on()
    {
        using var data = new TempDir();
        await using var host = await MeteringHost.StartAsync(data.Path, extra: ["--Metering:RateLimits:ApiPerSecond=1", "--Metering:RateLimits:ApiBurst=3"]);
        var (_, first) = await host.CreateKeyAsync("rl-one", ApiScopes.AccountRead);
        var (_, second) = await host.CreateKeyAsync("rl-two", ApiScopes.AccountRead);
        using var one = host.ClientWith(first);
        using var two = host.ClientWith(second);

        var answers = new List<HttpResponseMessage>();
        for (var i = 0; i < 6; i++) answers.Add(await one.GetAsync("/api/v1/accounts/rl-one/overview"));
        var limited = answers.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.True(answers.Count(r => r.StatusCode == HttpStatusCode.OK) >= 3);
        Assert.True(int.Parse(limited.Headers.GetValues("Retry-After").Single()) >= 1);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.Equal("rate_limited", (await limited.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("code").GetString());

        Assert.Equal(HttpStatusCode.OK, (await two.GetAsync("/api/v1/accounts/rl-two/overview")).StatusCode);
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.Equal(HttpStatusCode.OK, (await one.GetAsync("/api/v1/accounts/rl-one/overview")).StatusCode);
        await Eventually.TrueAsync(async () => (await PrometheusScrape.FromAsync(host)).Sum("metering_api_rejected_total", ("reason", "rate_limited")) >= 1,
            TimeSpan.FromSeconds(5), "429s are not counted");
    }
}
