namespace Metering.Projections;

/// <summary>Messages to the projections singleton; they cross the cluster, so they have their own serializer.</summary>
public interface IProjectionMessage;

/// <summary>Empty the projection's rows and offset in one transaction and project the journal again from the start.</summary>
public sealed record RebuildProjection(string Name) : IProjectionMessage;

/// <summary>The answer: the rows were emptied and projecting restarted (false: no projection has that name).</summary>
public sealed record ProjectionRebuildStarted(string Name, bool Known) : IProjectionMessage;
