namespace Metering.Tests.Shared;

public sealed partial class PrometheusScrape
{
    public static async Task<PrometheusScrape> FromAsync(Metering.Host.Tests.MeteringHost host)
    {
        using var response = await host.Http.GetAsync("/metrics");
        response.EnsureSuccessStatusCode();
        return Parse(await response.Content.ReadAsStringAsync());
    }
}
