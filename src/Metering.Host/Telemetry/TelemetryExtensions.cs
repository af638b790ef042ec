using Metering.Accounts;
using Metering.Billing.Payments;
using Metering.Ingestion.Consumer;
using Metering.Projections;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Metering.Host.Telemetry;

/// <summary><c>Metering:Telemetry:*</c>.</summary>
public sealed class TelemetryOptions
{
    /// <summary>OTLP collector for metrics, traces and logs; <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> works too. None: Prometheus scrapes <c>/metrics</c> only.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>
    /// Whether the engine records spans. By default only when an OTLP collector is configured: with
    /// nothing to receive them, each batch's and account's spans were made and dropped, 5–8 % of the
    /// engine's CPU at 10,000 accounts (session 16).
    /// </summary>
    public bool? Traces { get; set; }
}

public static class TelemetryExtensions
{
    public const string ServiceName = "metering";

    /// <summary>
    /// OpenTelemetry for the engine's meters and activity sources plus ASP.NET Core and the .NET
    /// runtime: metrics for Prometheus at <c>/metrics</c>, and everything to an OTLP collector when
    /// one is configured (spans only then, unless <see cref="TelemetryOptions.Traces"/> says otherwise).
    /// </summary>
    public static IServiceCollection AddMeteringTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<AccountTelemetry>();
        services.AddHostedService<ClusterMetrics>();
        var otel = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName, serviceVersion: typeof(TelemetryExtensions).Assembly.GetName().Version?.ToString()))
            .WithMetrics(metrics => metrics
                .AddMeter(IngestionMetrics.MeterName, AccountTelemetry.MeterName, ClusterMetrics.MeterName, ApiMetrics.MeterName, ProjectionTelemetry.MeterName)
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());

        var options = configuration.GetSection("Metering:Telemetry").Get<TelemetryOptions>() ?? new TelemetryOptions();
        var environmentEndpoint = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        if (options.Traces ?? (!string.IsNullOrWhiteSpace(options.OtlpEndpoint) || environmentEndpoint))
            otel.WithTracing(tracing => tracing
                .AddSource(IngestionTracing.SourceName, AccountTelemetry.SourceName, TracedPaymentGateway.SourceName)
                .AddAspNetCoreInstrumentation());
        if (!string.IsNullOrWhiteSpace(options.OtlpEndpoint))
            otel.UseOtlpExporter(OtlpExportProtocol.Grpc, new Uri(options.OtlpEndpoint));
        else if (environmentEndpoint)
            otel.UseOtlpExporter(); // reads the OTEL_EXPORTER_OTLP_* variables itself
        return services;
    }
}
