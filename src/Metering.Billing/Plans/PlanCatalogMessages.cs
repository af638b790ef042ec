using System.Text.Json.Serialization;
using Metering.Domain.Plans;

namespace Metering.Billing.Plans;

/// <summary>
/// Every command and reply that crosses the cluster to or from the plan catalog singleton; bound to
/// <see cref="PlanCatalogSerializer"/> (so are <see cref="PlanPut"/> and <see cref="PlanCatalogSnapshot"/>).
/// </summary>
public interface IPlanCatalogMessage;

// Queries

/// <summary>Asks for every plan. Answered with <see cref="PlanList"/>.</summary>
public sealed record GetPlans : IPlanCatalogMessage
{
    public static readonly GetPlans Instance = new();
}

/// <summary>The catalog, ordered by plan id (ordinal).</summary>
public sealed record PlanList(IReadOnlyList<Plan> Plans) : IPlanCatalogMessage;

/// <summary>Asks for one plan. Answered with <see cref="PlanFound"/>.</summary>
public sealed record GetPlan(string PlanId) : IPlanCatalogMessage;

/// <summary>The plan, or null when the catalog has no plan with that id.</summary>
public sealed record PlanFound(Plan? Plan) : IPlanCatalogMessage;

// Commands

/// <summary>
/// Adds a plan, or replaces the plan with the same id. Answered with <see cref="PlanPutResult"/> after the
/// journal write. The plan is checked with <see cref="Plan.Validate"/>; an invalid plan changes nothing.
/// </summary>
/// <remarks>
/// Replacing a plan changes what new subscriptions get. Existing subscriptions are not touched: a
/// subscription carries the copy of the plan it subscribed to (<c>SubscribeAccount</c> sends the whole
/// plan), so its fee, quotas and overage prices stay as they were until it is canceled and renewed on the
/// new version. Putting a plan equal to the stored one writes nothing and answers <c>Created = false</c>.
/// </remarks>
public sealed record PutPlan(Plan Plan) : IPlanCatalogMessage;

/// <summary>
/// Answer to <see cref="PutPlan"/>. On success <see cref="Plan"/> is the stored plan, <see cref="Created"/> tells
/// a new plan from a replaced one and <see cref="Errors"/> is empty; on failure <see cref="Plan"/> is null and
/// <see cref="Errors"/> says what is wrong.
/// </summary>
public sealed record PlanPutResult(Plan? Plan, bool Created, IReadOnlyList<string> Errors) : IPlanCatalogMessage
{
    [JsonIgnore] public bool Succeeded => Errors is { Count: 0 };
}

// Journal

/// <summary>Event: the plan was added or replaced at <paramref name="At"/>.</summary>
public sealed record PlanPut(Plan Plan, DateTimeOffset At);

/// <summary>Snapshot: the whole catalog, ordered by plan id.</summary>
public sealed record PlanCatalogSnapshot(IReadOnlyList<Plan> Plans);
