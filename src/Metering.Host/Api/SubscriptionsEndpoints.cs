using Akka.Actor;
using Akka.Hosting;
using Metering.Accounts;
using Metering.Accounts.Messages;
using Metering.Billing.Plans;
using Metering.Domain.Accounts;
using Metering.Projections;

namespace Metering.Host.Api;

/// <summary>An account's plans: subscribe, cancel, and the whole history.</summary>
public static class SubscriptionsEndpoints
{
    public sealed record SubscribeRequest(string? PlanId, string? Team);

    public static RouteGroupBuilder MapSubscriptionsEndpoints(this RouteGroupBuilder api)
    {
        var account = api.MapGroup("/accounts/{accountId}/subscriptions");
        account.MapGet("", (string accountId, BillingListsReadModel lists, CancellationToken ct, int page = 1, int pageSize = 50, DateTimeOffset? from = null, DateTimeOffset? to = null) =>
                InvoicesEndpoints.PageAsync<SubscriptionSnapshot>(lists, accountId, BillingListsProjection.Kinds.Subscription, page, pageSize, from, to, ct, AccountsEndpoints.ToView))
            .WithName("ListSubscriptions").WithSummary("Every subscription with its periods and invoices, newest first; from/to filter on the start");
        account.MapPost("", Subscribe).WithName("Subscribe");
        account.MapDelete("/{subscriptionId}", Cancel).WithName("CancelSubscription");
        return api;
    }

    private static async Task<IResult> Subscribe(
        string accountId, SubscribeRequest request, AccountApi api, IRequiredActor<PlanCatalogSingleton> catalog, AccountsOptions options, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(request.PlanId))
            return AccountApi.BadRequest("missing_plan", "Name the plan to subscribe to (planId).");
        var found = await (await catalog.GetAsync(ct)).Ask<PlanFound>(new GetPlan(request.PlanId), options.AskTimeout, ct);
        if (found.Plan is not { } plan)
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: $"No plan '{request.PlanId}'", extensions: new Dictionary<string, object?> { ["code"] = "plan_not_found" });

        var result = await api.AskAsync<AccountCommandResult>(new SubscribeAccount(accountId, plan, string.IsNullOrWhiteSpace(request.Team) ? null : request.Team), ct);
        if (result.Outcome.Refusal is { } refusal) return AccountApi.Problem(refusal);
        var subs = await api.AskAsync<AccountSubscriptions>(new GetAccountSubscriptions(accountId), ct);
        var created = subs.Subscriptions.Single(s => s.Id == result.Outcome.Id);
        return Results.Created($"/api/v1/accounts/{accountId}/subscriptions/{created.Id}", AccountsEndpoints.ToView(created));
    }

    /// <summary>
    /// <c>?atPeriodEnd=true</c>: the plan keeps covering usage until its period ends, then ends with
    /// a last invoice for any overage. Otherwise it stops now. Either way the fee already charged
    /// for the current period is not refunded.
    /// </summary>
    private static async Task<IResult> Cancel(string accountId, string subscriptionId, AccountApi api, CancellationToken ct, bool atPeriodEnd = false)
    {
        var result = await api.AskAsync<AccountCommandResult>(new CancelAccountSubscription(accountId, subscriptionId, atPeriodEnd), ct);
        if (result.Outcome.Refusal is { } refusal) return AccountApi.Problem(refusal);
        var subs = await api.AskAsync<AccountSubscriptions>(new GetAccountSubscriptions(accountId), ct);
        return Results.Ok(AccountsEndpoints.ToView(subs.Subscriptions.Single(s => s.Id == subscriptionId)));
    }
}
