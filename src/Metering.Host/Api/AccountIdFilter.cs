using Metering.Domain.Accounts;

namespace Metering.Host.Api;

/// <summary>Every route with an <c>{accountId}</c> refuses a malformed id in one place, before any actor is asked.</summary>
public sealed class AccountIdFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        context.HttpContext.Request.RouteValues.TryGetValue("accountId", out var id) && !AccountId.IsValid(id as string)
            ? ValueTask.FromResult<object?>(Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid account id",
                detail: $"An account id is {AccountId.Rule}."))
            : next(context);
}
