using System.Text.Json;
using Akka.Actor;
using Akka.Hosting;
using Metering.Accounts;
using Metering.Billing.Plans;
using Metering.Domain.Accounts;
using Metering.Domain.Plans;
using Metering.Host.Auth;
using Microsoft.AspNetCore.Http.Features;

namespace Metering.Host.Api;

/// <summary>
/// The plan catalog: <c>GET /api/v1/plans</c>, <c>GET /api/v1/plans/{planId}</c> and <c>PUT /api/v1/plans/{planId}</c>,
/// answered by the catalog singleton. A PUT replaces the plan for new subscriptions only: existing
/// subscriptions keep the copy of the plan they subscribed to.
/// </summary>
public static class PlansEndpoints
{
    public const long MaxBodyBytes = 256 * 1024;

    /// <summary>The contract JSON; a price's <c>model</c> may come anywhere in its object.</summary>
    private static readonly JsonSerializerOptions BodyJson = new(JsonSerializerDefaults.Web)
    {
        AllowOutOfOrderMetadataProperties = true,
    };

    public static RouteGroupBuilder MapPlansEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/plans", ListPlans)
            .Produces<IReadOnlyList<Plan>>()
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .RequireScope(ApiScopes.AccountRead) // the page offers the catalog to subscribe
            .WithName("GetPlans");
        api.MapGet("/plans/{planId}", ReadPlan)
            .Produces<Plan>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .RequireScope(ApiScopes.AccountRead)
            .WithName("GetPlan");
        api.MapPut("/plans/{planId}", ReplacePlan)
            .Accepts<Plan>("application/json")
            .Produces<Plan>()
            .Produces<Plan>(StatusCodes.Status201Created)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType) // Accepts: routing refuses other content types
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .WithName("PutPlan");
        return api;
    }

    private static async Task<IResult> ListPlans(IRequiredActor<PlanCatalogSingleton> catalog, AccountsOptions options, CancellationToken ct)
    {
        // An unanswered ask is a 503 with Retry-After (AskTimeoutHandler), for every endpoint.
        var list = await (await catalog.GetAsync(ct)).Ask<PlanList>(GetPlans.Instance, options.AskTimeout, ct);
        return Results.Ok(list.Plans);
    }

    private static async Task<IResult> ReadPlan(string planId, IRequiredActor<PlanCatalogSingleton> catalog, AccountsOptions options, CancellationToken ct)
    {
        if (!AccountId.IsValid(planId)) return InvalidId();
        var found = await (await catalog.GetAsync(ct)).Ask<PlanFound>(new GetPlan(planId), options.AskTimeout, ct);
        return found.Plan is { } plan
            ? Results.Ok(plan)
            : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such plan", detail: $"The catalog has no plan '{planId}'.");
    }

    private static async Task<IResult> ReplacePlan(
        string planId,
        HttpRequest request,
        IRequiredActor<PlanCatalogSingleton> catalog,
        AccountsOptions options,
        CancellationToken ct)
    {
        if (!AccountId.IsValid(planId)) return InvalidId();

        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = MaxBodyBytes;
        if (request.ContentLength > MaxBodyBytes) return TooLarge();

        Plan? plan;
        try
        {
            plan = await JsonSerializer.DeserializeAsync<Plan>(request.Body, BodyJson, ct);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException)
        {
            // Malformed JSON, a wrong type, or an overage price without (or with an unknown) "model".
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Unreadable plan",
                detail: PlanCatalogHostingExtensions.ReadError(e));
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return TooLarge();
        }
        if (plan is null)
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Unreadable plan", detail: "The body must be a plan, a JSON object.");

        // Deserialized JSON may leave "id" out although the type says it is always there.
        if (plan.Id is null) plan = plan with { Id = planId };
        else if (plan.Id != planId)
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Plan id mismatch",
                detail: $"The body's id '{plan.Id}' is not the id in the URL '{planId}'. Leave it out or make them equal.");

        var result = await (await catalog.GetAsync(ct)).Ask<PlanPutResult>(new PutPlan(plan), options.AskTimeout, ct);
        if (result is not { Errors.Count: 0, Plan: { } stored })
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid plan",
                detail: $"The plan has {result.Errors.Count} problem(s); nothing was changed.",
                extensions: new Dictionary<string, object?> { ["errors"] = result.Errors });

        return result.Created
            ? Results.Created($"{request.PathBase}{request.Path}", stored)
            : Results.Ok(stored);
    }

    private static IResult InvalidId() =>
        Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid plan id", detail: $"A plan id is {AccountId.Rule}.");

    private static IResult TooLarge() =>
        Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large", detail: $"At most {MaxBodyBytes} bytes per request.");
}
