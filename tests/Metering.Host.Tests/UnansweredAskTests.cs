using System.Net;
using System.Text.Json;

namespace Metering.Host.Tests;

/// <summary>An actor that does not answer in time is a passing condition the client can retry, not a server error (AskTimeoutHandler).</summary>
public sealed class UnansweredAskTests : IDisposable
{
    private readonly TempDir _data = new();

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task An_account_not_answering_in_time_is_a_503_problem_with_retry_after()
    {
        // An ask timeout under a millisecond: a fresh account must first recover from the journal, so
        // it all but never answers in time (the first not answered is checked; twenty answered fail).
        var host = await MeteringHost.StartAsync(_data.Path, extra: "--Metering:Accounts:AskTimeout=00:00:00.0000001");
        try
        {
            HttpResponseMessage? response = null;
            for (var i = 0; i < 20 && response is null; i++)
            {
                var answer = await host.Http.GetAsync($"/api/v1/accounts/acct-slow-{i}/overview");
                if (answer.StatusCode != HttpStatusCode.OK) response = answer;
            }
            Assert.NotNull(response);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"expected 503, got {(int)response.StatusCode}: {text}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(TimeSpan.FromSeconds(1), response.Headers.RetryAfter?.Delta);
            var problem = JsonDocument.Parse(text).RootElement;
            Assert.Equal("unavailable", problem.GetProperty("code").GetString());
            Assert.Equal(503, problem.GetProperty("status").GetInt32());
        }
        finally
        {
            await host.DisposeAsync();
        }
    }
}
