using Akka.Actor;
using Metering.Accounts.Serialization;

namespace Metering.Projections;

public sealed class ProjectionSerializer(ExtendedActorSystem system) : VersionedJsonSerializer(system, TypesByManifest)
{
    public const int Id = 7_350;

    private static readonly Dictionary<string, Type> TypesByManifest = new()
    {
        ["rebuild-projection.v1"] = typeof(RebuildProjection),
        ["projection-rebuild-started.v1"] = typeof(ProjectionRebuildStarted),
    };

    public static readonly Type[] BoundTypes = [typeof(IProjectionMessage)];

    public override int Identifier => Id;
}
