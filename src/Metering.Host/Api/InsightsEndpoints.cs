using System.Globalization;
using System.Text.RegularExpressions;
using Akka.Actor;
using Akka.Hosting;
using Metering.Accounts;
using Metering.Accounts.History;
using Metering.Accounts.Messages;
using Metering.Billing.Plans;
using Metering.Domain.Insights;

namespace Metering.Host.Api;

/// <summary>
/// The insights of an account: run-out forecast, plan fit and the balance at a past instant. The
/// rules are pure (<c>Metering.Domain.Insights</c>); this layer reads the live account and its
/// journal. Each asks the account first, so renewals and reminders that fell due are persisted
/// before the journal is read and the history is complete up to now.
/// </summary>
public static partial class InsightsEndpoints
{
    public sealed record ForecastView(
        string AccountId, string Currency, DateTimeOffset AsOf, int WindowDays, decimal Balance, decimal BurnPerDay,
        DateTimeOffset? BalanceRunsOutAt, AutoRechargeForecast AutoRecharge, IReadOnlyList<QuotaForecast> Quotas);

    public sealed record PlanFitView(
        string AccountId, string Currency, IReadOnlyList<FitPeriod> Periods, IReadOnlyList<FitOption> Options,
        FitCurrent Current, FitOption? Cheapest, decimal Saving);

    public sealed record BalanceAtView(string AccountId, DateTimeOffset At, string Currency, decimal Balance, decimal PendingBalance, int EventsReplayed);

    public static RouteGroupBuilder MapInsightsEndpoints(this RouteGroupBuilder api)
    {
        var account = api.MapGroup("/accounts/{accountId}");
        account.MapGet("/insights/forecast", Forecast)
            .Produces<ForecastView>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .WithName("GetRunOutForecast");
        account.MapGet("/insights/plan-fit", PlanFitFor)
            .Produces<PlanFitView>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .WithName("GetPlanFit");
        account.MapGet("/balance", BalanceAt)
            .Produces<BalanceAtView>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .WithName("GetBalanceAt");
        return api;
    }

    /// <param name="window">Days of history the burn rate is measured over: <c>7d</c> (or <c>7</c>), 1 to 90; 7 by default.</param>
    private static async Task<IResult> Forecast(string accountId, AccountApi api, AccountHistory history, CancellationToken ct, string? window = null)
    {
        var days = RunOutForecast.DefaultWindowDays;
        if (window is not null && (WindowPattern().Match(window) is not { Success: true } m
                || !int.TryParse(m.Groups[1].Value, CultureInfo.InvariantCulture, out days)
                || days is < RunOutForecast.MinWindowDays or > RunOutForecast.MaxWindowDays))
            return Invalid("window", $"window is a number of days from {RunOutForecast.MinWindowDays} to {RunOutForecast.MaxWindowDays}, such as 7d.");

        var o = await api.AskAsync<AccountOverview>(new GetAccountOverview(accountId), ct);
        var journal = await history.EventsAsync(accountId, ct);
        var f = RunOutForecast.Compute(o.Balance, o.AutoRecharge, o.AutoRechargeSuspendedReason is not null, o.ActivePlans,
            RunOutForecast.Debited(journal, o.AsOf.AddDays(-days), o.AsOf), days, o.AsOf);
        return Results.Ok(new ForecastView(o.AccountId, o.Currency, f.AsOf, f.WindowDays, f.Balance, f.BurnPerDay, f.BalanceRunsOutAt, f.AutoRecharge, f.Quotas));
    }

    /// <param name="periods">Closed billing periods to compare, the latest first counted back: 1 to 24; 3 by default.</param>
    private static async Task<IResult> PlanFitFor(
        string accountId, AccountApi api, AccountHistory history, IRequiredActor<PlanCatalogSingleton> catalog, AccountsOptions options,
        CancellationToken ct, string? periods = null)
    {
        var count = PlanFit.DefaultPeriods;
        if (periods is not null && (!int.TryParse(periods, NumberStyles.None, CultureInfo.InvariantCulture, out count)
                || count is < PlanFit.MinPeriods or > PlanFit.MaxPeriods))
            return Invalid("periods", $"periods is a whole number from {PlanFit.MinPeriods} to {PlanFit.MaxPeriods}.");

        var now = (await api.AskAsync<AccountOverview>(new GetAccountOverview(accountId), ct)).AsOf;
        var plans = await (await catalog.GetAsync(ct)).Ask<PlanList>(GetPlans.Instance, options.AskTimeout, ct);
        var (journal, replayed) = await history.AtAsync(accountId, now, ct);
        var fit = PlanFit.Compare(replayed.Account, journal, plans.Plans, count, now);
        return Results.Ok(new PlanFitView(accountId, fit.Currency, fit.Periods, fit.Options, fit.Current, fit.Cheapest, fit.Saving));
    }

    /// <param name="at">An ISO-8601 instant, not in the future; without an offset it is read as UTC.</param>
    private static async Task<IResult> BalanceAt(string accountId, AccountApi api, AccountHistory history, CancellationToken ct, string? at = null)
    {
        if (!DateTimeOffset.TryParse(at, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var instant))
            return Invalid("at", "at is an ISO-8601 instant such as 2026-11-27T10:00:00Z (encode a + offset as %2B).");
        var now = (await api.AskAsync<AccountOverview>(new GetAccountOverview(accountId), ct)).AsOf;
        if (instant > now)
            return Invalid("at", $"at is in the future (now is {now:O}); the balance is known only up to now.");

        var (_, replayed) = await history.AtAsync(accountId, instant, ct);
        var a = replayed.Account;
        return Results.Ok(new BalanceAtView(accountId, instant, a.Currency, a.Balance, a.PendingBalance, replayed.EventsReplayed));
    }

    private static IResult Invalid(string parameter, string detail) =>
        Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: $"Invalid {parameter}", detail: detail,
            extensions: new Dictionary<string, object?> { ["code"] = $"invalid_{parameter}", ["parameter"] = parameter });

    [GeneratedRegex(@"^\s*(\d{1,3})d?\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex WindowPattern();
}
