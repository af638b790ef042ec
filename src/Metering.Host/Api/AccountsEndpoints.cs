using Akka.Actor;
using Akka.Hosting;
using Metering.Accounts;
using Metering.Accounts.Messages;
using Metering.Domain.Accounts;
using Metering.Domain.Meters;

namespace Metering.Host.Api;

/// <summary>Account reads, answered live by the account's actor.</summary>
public static class AccountsEndpoints
{
    public sealed record AutoRechargeView(bool Enabled, decimal? Threshold, decimal? Amount, string? PaymentMethodId);
    public sealed record BillingCycleView(DateTimeOffset Start, DateTimeOffset End, DateTimeOffset RenewsOn);
    public sealed record PurchaseView(DateTimeOffset At, IReadOnlyList<PurchaseItemView> Items, decimal Total);
    public sealed record PurchaseItemView(string Description, decimal Amount);
    public sealed record PlanView(string SubscriptionId, string PlanId, string Name, string Status, DateTimeOffset CurrentPeriodEnd);

    public sealed record OverviewView(
        string AccountId,
        string Currency,
        decimal Balance,
        decimal PendingBalance,
        AutoRechargeView AutoRecharge,
        BillingCycleView? BillingCycle,
        IReadOnlyList<PlanView> ActivePlans,
        IReadOnlyDictionary<string, decimal> Usage,
        PurchaseView? LastPurchase,
        long EventsProcessed,
        long DuplicatesDropped,
        DateTimeOffset? LastUsageAt,
        DateTimeOffset AsOf);

    public static RouteGroupBuilder MapAccountsEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/accounts/{accountId}/overview", GetOverview)
            .Produces<OverviewView>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .WithName("GetAccountOverview");
        return api;
    }

    private static async Task<IResult> GetOverview(
        string accountId,
        IRequiredActor<AccountRegion> accounts,
        AccountsOptions options,
        MeterCatalog meters,
        CancellationToken ct)
    {
        if (!AccountId.IsValid(accountId))
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid account id", detail: $"An account id is {AccountId.Rule}.");

        var region = await accounts.GetAsync(ct);
        var o = await region.Ask<AccountOverview>(new GetAccountOverview(accountId), options.AskTimeout, ct);
        // Every configured meter is listed, zero when unused, so the page never has to guess.
        var usage = meters.Meters.ToDictionary(m => m.Key, m => o.Usage.GetValueOrDefault(m.Key));
        return Results.Ok(new OverviewView(
            o.AccountId,
            o.Currency,
            o.Balance,
            o.PendingBalance,
            new AutoRechargeView(false, null, null, null),
            o is { CycleStart: { } start, CycleEnd: { } end } ? new BillingCycleView(start, end, end) : null,
            [],
            usage,
            null,
            o.EventsProcessed,
            o.DuplicatesDropped,
            o.LastUsageAt,
            o.AsOf));
    }
}
