using Metering.Accounts.Messages;
using Metering.Domain.Accounts;
using Metering.Domain.Meters;

namespace Metering.Host.Api;

/// <summary>Account reads, answered live by the account's actor.</summary>
public static class AccountsEndpoints
{
    public sealed record AutoRechargeView(bool Enabled, decimal? Threshold, decimal? Amount, string? PaymentMethodId, string? SuspendedReason);
    public sealed record BillingCycleView(DateTimeOffset Start, DateTimeOffset End, DateTimeOffset RenewsOn);
    public sealed record PurchaseView(DateTimeOffset At, IReadOnlyList<PurchaseItemView> Items, decimal Total);
    public sealed record PurchaseItemView(string Description, decimal Amount);
    public sealed record QuotaView(string Meter, decimal Included, decimal Used, decimal Remaining);
    public sealed record PlanView(
        string SubscriptionId, string PlanId, string Name, string? Team, string Status, decimal Fee, string Interval,
        DateTimeOffset StartedAt, DateTimeOffset? EndedAt, bool CancelAtPeriodEnd,
        DateTimeOffset CurrentPeriodStart, DateTimeOffset CurrentPeriodEnd, IReadOnlyList<QuotaView> Quotas,
        IReadOnlyDictionary<string, decimal> OverageCharged, IReadOnlyList<SubscriptionPeriod> Periods);

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

    public static PlanView ToView(SubscriptionSnapshot s) => new(
        s.Id,
        s.Plan.Id,
        s.Plan.Name,
        s.Team,
        s.Status.ToString().ToLowerInvariant(),
        s.Plan.Fee,
        s.Plan.Interval.ToString().ToLowerInvariant(),
        s.StartedAt,
        s.EndedAt,
        s.CancelAtPeriodEnd,
        s.PeriodStart,
        s.PeriodEnd,
        s.Plan.Quotas.Select(q =>
        {
            var used = s.Used.GetValueOrDefault(q.Key);
            return new QuotaView(q.Key, q.Value, used, Math.Max(0, q.Value - used));
        }).ToArray(),
        s.Charged,
        s.Periods);

    public static RouteGroupBuilder MapAccountsEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/accounts/{accountId}/overview", GetOverview)
            .Produces<OverviewView>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .WithName("GetAccountOverview");
        return api;
    }

    private static async Task<IResult> GetOverview(string accountId, AccountApi api, MeterCatalog meters, CancellationToken ct)
    {
        var o = await api.AskAsync<AccountOverview>(new GetAccountOverview(accountId), ct);
        // Every configured meter is listed, zero when unused, so the page never has to guess.
        var usage = meters.Meters.ToDictionary(m => m.Key, m => o.Usage.GetValueOrDefault(m.Key));
        return Results.Ok(new OverviewView(
            o.AccountId,
            o.Currency,
            o.Balance,
            o.PendingBalance,
            o.AutoRecharge.Enabled
                ? new AutoRechargeView(true, o.AutoRecharge.Threshold, o.AutoRecharge.Amount, o.AutoRecharge.PaymentMethodId, o.AutoRechargeSuspendedReason)
                : new AutoRechargeView(false, null, null, null, null),
            o is { CycleStart: { } start, CycleEnd: { } end } ? new BillingCycleView(start, end, end) : null,
            o.ActivePlans.Select(ToView).ToArray(),
            usage,
            o.LastPurchase is { CompletedAt: { } at } p ? new PurchaseView(at, [new PurchaseItemView(p.Description, p.Amount)], p.Amount) : null,
            o.EventsProcessed,
            o.DuplicatesDropped,
            o.LastUsageAt,
            o.AsOf));
    }
}
