using Akka.Actor;
using Akka.Event;
using Akka.Hosting.Logging;

namespace Metering.Host.Telemetry;

/// <summary>
/// Akka's log events into Microsoft.Extensions.Logging, as Akka.Hosting's logger does, except one
/// line that is not an error for a cluster. When a peer closes its TCP connection without the
/// remoting shutdown message (a process ending after a graceful leave often races its last write),
/// Akka.Remote logs the endpoint writer's <c>Disassociated</c> failure at Error, next to its own
/// Warning "Association with remote system … has failed; address is now gated". That Error would
/// page an SRE on every rolling deploy; it is logged at Warning. A peer that really fails still shows
/// as unreachable, then downed, in the cluster's own log lines and in <c>/api/v1/cluster</c>.
/// </summary>
public sealed class AkkaLogger : LoggerFactoryLogger
{
    // Internal to Akka.Remote, hence matched by name.
    private const string Disassociated = "Akka.Remote.EndpointDisassociatedException";

    protected override void Log(LogEvent log, ActorPath path)
    {
        if (log is Error { Cause: { } cause } error && cause.GetType().FullName == Disassociated)
            log = new Warning(cause, error.LogSource, error.LogClass, error.Message);
        base.Log(log, path);
    }
}
