using Akka.Actor;
using Metering.Accounts.Serialization;

namespace Metering.Billing.Plans;

/// <summary>Journal, snapshot and cluster format of everything the plan catalog persists or sends.</summary>
public sealed class PlanCatalogSerializer(ExtendedActorSystem system) : VersionedJsonSerializer(system, TypesByManifest)
{
    public const int Id = 7_342;

    private static readonly Dictionary<string, Type> TypesByManifest = new()
    {
        ["plan-put.v1"] = typeof(PlanPut),
        ["plan-catalog-snapshot.v1"] = typeof(PlanCatalogSnapshot),
        ["get-plans.v1"] = typeof(GetPlans),
        ["plan-list.v1"] = typeof(PlanList),
        ["get-plan.v1"] = typeof(GetPlan),
        ["plan-found.v1"] = typeof(PlanFound),
        ["put-plan.v1"] = typeof(PutPlan),
        ["plan-put-result.v1"] = typeof(PlanPutResult),
    };

    /// <summary>Every manifest this serializer writes and reads.</summary>
    public static IReadOnlyCollection<string> Manifests => TypesByManifest.Keys;

    /// <summary>Types this serializer is bound to in the actor system.</summary>
    public static readonly Type[] BoundTypes = [typeof(IPlanCatalogMessage), typeof(PlanPut), typeof(PlanCatalogSnapshot)];

    public override int Identifier => Id;
}
