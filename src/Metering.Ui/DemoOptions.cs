using Microsoft.Extensions.Configuration;

namespace Metering.Ui;

/// <summary>
/// <c>Metering:Demo:*</c>. Enabled by default only on the embedded default (no external Kafka), so a
/// new user sees a living page at once; a real deployment starts empty.
/// </summary>
public sealed class DemoOptions
{
    public bool Enabled { get; set; }

    /// <summary>How often the demo usage generator sends a little usage per demo account; zero switches it off.</summary>
    public TimeSpan UsageInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Where <c>/</c> leads.</summary>
    public string DefaultAccount { get; set; } = DemoSeeder.Accounts[0].Id;

    public static DemoOptions From(IConfiguration configuration)
    {
        var options = new DemoOptions { Enabled = string.IsNullOrWhiteSpace(configuration["Metering:Kafka:BootstrapServers"]) };
        configuration.GetSection("Metering:Demo").Bind(options);
        return options;
    }
}
