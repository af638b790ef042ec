namespace Metering.Host.Tests;

/// <summary>One engine on its embedded default shared by the tests of a class (they use accounts of their own).</summary>
public sealed class HostFixture : IAsyncLifetime
{
    private readonly TempDir _data = new();

    public MeteringHost Host { get; private set; } = null!;

    public async Task InitializeAsync() => Host = await MeteringHost.StartAsync(_data.Path);

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        _data.Dispose();
    }
}
