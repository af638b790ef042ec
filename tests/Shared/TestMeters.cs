using System.Diagnostics.Metrics;

namespace Metering.Tests.Shared;

/// <summary>Meters without a host's DI container.</summary>
public sealed class TestMeters : IMeterFactory
{
    public Meter Create(MeterOptions options) => new(options);

    public void Dispose()
    {
    }
}
