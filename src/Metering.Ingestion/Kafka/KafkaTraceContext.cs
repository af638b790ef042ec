using System.Diagnostics;
using System.Text;
using Confluent.Kafka;

namespace Metering.Ingestion.Kafka;

/// <summary>
/// W3C trace context in Kafka headers (<c>traceparent</c>, <c>tracestate</c>), as OpenTelemetry's
/// messaging conventions and other clients' instrumentations carry it, so a trace started by an HTTP
/// ingest or by any traced producer continues in the consumer.
/// </summary>
public static class KafkaTraceContext
{
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";

    /// <summary>
    /// Adds the current activity's context, unless the record already carries one: a dead letter keeps
    /// the context of the producer that sent the invalid event.
    /// </summary>
    public static Headers? Inject(Headers? headers)
    {
        if (Activity.Current is not { IdFormat: ActivityIdFormat.W3C, Id: { } id } activity) return headers;
        headers ??= [];
        if (headers.TryGetLastBytes(TraceParent, out _)) return headers;
        headers.Add(TraceParent, Encoding.ASCII.GetBytes(id));
        if (activity.TraceStateString is { } state) headers.Add(TraceState, Encoding.ASCII.GetBytes(state));
        return headers;
    }

    /// <summary>The producer's context, or null when the record carries none or a malformed one.</summary>
    public static ActivityContext? Extract(Headers? headers)
    {
        if (headers is null || !headers.TryGetLastBytes(TraceParent, out var parent)) return null;
        var state = headers.TryGetLastBytes(TraceState, out var s) ? Encoding.ASCII.GetString(s) : null;
        return ActivityContext.TryParse(Encoding.ASCII.GetString(parent), state, isRemote: true, out var context) ? context : null;
    }
}
