using System.Reflection;
using Akka.Actor;
using Metering.Accounts.Persistence;
using Metering.Ingestion.Kafka;

namespace Metering.Host.Api;

/// <summary><c>GET /api/v1/system</c>: what this node runs on.</summary>
public static class SystemEndpoints
{
    public sealed record KafkaView(string BootstrapServers, bool Embedded, string UsageTopic, string NotificationsTopic, string DeadLetterTopic);
    public sealed record PersistenceView(string Provider);
    public sealed record SystemView(string Version, string Node, KafkaView Kafka, PersistenceView Persistence);

    public static string Version { get; } =
        typeof(SystemEndpoints).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static RouteGroupBuilder MapSystemEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/system", (KafkaEndpoint endpoint, KafkaOptions kafka, JournalDatabase database, ActorSystem system) =>
                new SystemView(
                    Version,
                    Akka.Cluster.Cluster.Get(system).SelfAddress.ToString(),
                    new KafkaView(endpoint.BootstrapServers, endpoint.Embedded, kafka.UsageTopic, kafka.NotificationsTopic, kafka.DeadLetterTopic),
                    new PersistenceView(database.Provider)))
            .WithName("GetSystem");
        return api;
    }
}
