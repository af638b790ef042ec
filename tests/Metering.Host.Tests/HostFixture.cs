namespace Metering.Host.Tests;

/// <summary>One engine on its embedded default shared by the tests of a class (they use accounts of their own).</summary>
public sealed class HostFixture : IAsyncLifetime
{
    private readonly TempDir _data = new();

    public MeteringHost Host { get; private set; } = null!;

    // The isolation tests call every endpoint without a key too: more than one client address's default burst.
    public async Task InitializeAsync() => Host = await MeteringHost.StartAsync(_data.Path, extra: ["--Metering:RateLimits:AnonymousBurst=10000", "--Metering:RateLimits:AnonymousPerSecond=10000"]);

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        _data.Dispose();
    }
}
