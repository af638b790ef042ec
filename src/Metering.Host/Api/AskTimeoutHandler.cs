using Akka.Actor;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Metering.Host.Api;

/// <summary>
/// An actor that did not answer in time (an account or a singleton moving to another node after a
/// node left, a journal that is slow to recover an account) is a passing condition, not a server
/// bug: every endpoint answers it 503 with <c>Retry-After</c>, as problem details, instead of 500.
/// </summary>
public sealed class AskTimeoutHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public const string Code = "unavailable";

    public ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken ct)
    {
        if (exception is not AskTimeoutException) return ValueTask.FromResult(false);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = "1";
        return problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Not answered in time",
                Detail = "The engine did not answer in time; the account may be moving to another node. Retry shortly.",
                Extensions = { ["code"] = Code },
            },
        });
    }
}
