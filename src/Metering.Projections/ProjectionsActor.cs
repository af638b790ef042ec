using Akka.Actor;

namespace Metering.Projections;

/// <summary>The cluster singleton: one child per projection, so a cluster of any size projects each event once.</summary>
public sealed class ProjectionsActor : ReceiveActor
{
    public const string Id = "projections";

    public ProjectionsActor(IReadOnlyList<IProjection> projections, ReadStore store, ProjectionsOptions options, ProjectionTelemetry telemetry)
    {
        var children = projections.ToDictionary(
            p => p.Name,
            p => Context.ActorOf(ProjectionActor.Props(p, store, options, telemetry), p.Name));
        Receive<RebuildProjection>(m =>
        {
            if (children.TryGetValue(m.Name, out var child)) child.Forward(m);
            else Sender.Tell(new ProjectionRebuildStarted(m.Name, false));
        });
    }
}
