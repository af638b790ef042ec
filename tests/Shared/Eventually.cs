namespace Metering.Tests.Shared;

/// <summary>Waits for something a real server does in its own time; a server still starting may refuse connections meanwhile.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string because)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException(because);
            await Task.Delay(100);
        }
    }
}
