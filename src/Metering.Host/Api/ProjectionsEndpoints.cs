using Akka.Actor;
using Akka.Hosting;
using Metering.Accounts;
using Metering.Projections;

namespace Metering.Host.Api;

/// <summary>Operating the read side: how far each projection trails, and rebuilding one from scratch.</summary>
public static class ProjectionsEndpoints
{
    public sealed record ProjectionView(string Name, long LagMilliseconds);
    public sealed record RebuildView(string Name, string Status);

    public static RouteGroupBuilder MapProjectionsEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/projections", (ProjectionTelemetry telemetry) =>
                Results.Ok(ProjectionTelemetry.Projections.Select(p => new ProjectionView(p.Name, (long)telemetry.Lag(p.Name).TotalMilliseconds)).ToArray()))
            .Produces<ProjectionView[]>()
            .WithName("ListProjections")
            .WithSummary("The read-side projections and how far each trails the journal");
        api.MapPost("/projections/{name}/rebuild", Rebuild)
            .Produces<RebuildView>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithName("RebuildProjection")
            .WithSummary("Empties a projection's rows and projects the whole journal again; lists and series fill up as it catches up");
        return api;
    }

    private static async Task<IResult> Rebuild(string name, IRequiredActor<ProjectionsSingleton> projections, AccountsOptions options, CancellationToken ct)
    {
        var answer = await (await projections.GetAsync(ct)).Ask<ProjectionRebuildStarted>(new RebuildProjection(name), options.AskTimeout, ct);
        return answer.Known
            ? Results.Accepted($"/api/v1/projections", new RebuildView(name, "rebuilding"))
            : Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "No such projection",
                detail: $"Projections are {string.Join(", ", ProjectionTelemetry.Projections.Select(p => p.Name))}.");
    }
}
