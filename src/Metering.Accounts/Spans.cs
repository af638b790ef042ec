using System.Diagnostics;

namespace Metering.Accounts;

/// <summary>The one way the engine's spans record a failure (shared by ingestion and the payment gateway).</summary>
public static class Spans
{
    /// <summary>Awaits the work, marking the span failed when it throws.</summary>
    public static async Task<T> Traced<T>(this Activity? span, Func<Task<T>> work)
    {
        try
        {
            return await work();
        }
        catch (Exception e)
        {
            span?.Failed(e);
            throw;
        }
    }

    /// <summary>Marks the span failed with the exception.</summary>
    public static void Failed(this Activity span, Exception e)
    {
        span.AddException(e);
        span.SetStatus(ActivityStatusCode.Error, e.Message);
    }
}
