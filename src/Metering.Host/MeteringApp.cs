using System.Text.Json;
using System.Text.Json.Serialization;
using Akka.Hosting;
using Metering.Accounts;
using Metering.Accounts.Cluster;
using Metering.Accounts.History;
using Metering.Accounts.Persistence;
using Metering.Billing.Payments;
using Metering.Billing.Plans;
using Metering.Domain.Payments;
using Metering.Host.Api;
using Metering.Host.Auth;
using Metering.Host.Health;
using Metering.Host.Notifications;
using Metering.Domain.Notifications;
using Metering.Host.Telemetry;
using Metering.Ingestion;
using Metering.Ingestion.Kafka;
using Metering.Projections;
using Metering.Ui;
using Scalar.AspNetCore;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Metering.Host;

/// <summary>Composes the engine: Akka (cluster, persistence, accounts), Kafka ingestion, the HTTP API.</summary>
public static class MeteringApp
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // Settings ship next to the binaries; the working directory is only for ./data.
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(builder);
        var configuration = builder.Configuration;

        var options = configuration.GetSection("Metering").Get<MeteringOptions>() ?? new MeteringOptions();
        var dataDir = Path.GetFullPath(options.DataDir);
        var database = JournalDatabase.From(options.Persistence.Provider, options.Persistence.ConnectionString, dataDir);
        var cluster = configuration.GetSection("Metering:Cluster").Get<ClusterSettings>() ?? new ClusterSettings();
        var accounts = configuration.GetSection("Metering:Accounts").Get<AccountsOptions>() ?? new AccountsOptions();
        accounts.Validate();
        var plans = PlanCatalogHostingExtensions.PlansFrom(configuration);
        var projections = configuration.GetSection("Metering:Projections").Get<ProjectionsOptions>() ?? new ProjectionsOptions();
        var readStore = new ReadStore(database);

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(database);
        builder.Services.AddSingleton(accounts);
        builder.Services.AddSingleton(cluster);
        builder.Services.AddSingleton<PartitionShardPlacement>();
        builder.Services.AddSingleton(AdminKey.Load(options.Auth.AdminKey, dataDir));
        builder.Services.AddSingleton<ApiKeyStore>();
        builder.Services.AddSingleton(SecretBox.Load(options.Secrets.Key, dataDir));
        builder.Services.AddSingleton<ApiMetrics>();
        builder.Services.AddMeteringRateLimits(configuration);
        builder.Services.AddSingleton(configuration.GetSection("Metering:Notifications").Get<WebhookOptions>() ?? new WebhookOptions());
        builder.Services.AddSingleton<WebhookPolicy>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        // The durable sandbox unless a real provider adapter was registered first.
        builder.Services.TryAddSingleton<IPaymentGateway>(sp =>
            new SandboxPaymentGateway(Path.Combine(dataDir, SandboxPaymentGateway.DefaultFileName), sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ApiMetrics.Count);
        builder.Services.AddExceptionHandler<AskTimeoutHandler>();
        builder.Services.AddOpenApi();
        // Webhooks connect only where WebhookPolicy allows, never through a proxy, and never follow redirects.
        builder.Services.AddHttpClient<INotificationSink, NotificationSender>(http => http.Timeout = TimeSpan.FromSeconds(10))
            .ConfigurePrimaryHttpMessageHandler(sp => new SocketsHttpHandler
            {
                ConnectCallback = sp.GetRequiredService<WebhookPolicy>().ConnectAsync,
                AllowAutoRedirect = false,
                UseProxy = false,
            });
        builder.Services.AddSingleton<AccountApi>();
        builder.Services.AddMeteringAccountJournal();
        builder.Services.AddMeteringAccountHistory();
        builder.Services.AddSingleton(readStore);
        builder.Services.AddSingleton<ProjectionTelemetry>();
        builder.Services.AddSingleton<UsageReadModel>();
        builder.Services.AddSingleton<BillingListsReadModel>();
        // Plans carry polymorphic prices whose "model" may come anywhere in the object.
        builder.Services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.AllowOutOfOrderMetadataProperties = true;
            // Statuses and kinds read as words ("paid", "receipt"), not numbers.
            o.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        });

        builder.Services.AddAkka(AccountsHostingExtensions.SystemName, (akka, sp) =>
        {
            akka.ConfigureLoggers(loggers => loggers.ClearLoggers().AddLogger<AkkaLogger>());
            akka.AddMeteringCluster(cluster)
                .AddMeteringPersistence(database)
                .AddMeteringAccounts(accounts, new AccountServices(
                    sp.GetRequiredService<TimeProvider>(),
                    new TracedPaymentGateway(sp.GetRequiredService<IPaymentGateway>()),
                    sp.GetRequiredService<INotificationSink>(),
                    sp.GetRequiredService<AccountTelemetry>()),
                    cluster.ColocatePartitions ? sp.GetRequiredService<KafkaEndpoint>().UsagePartitions : null)
                .AddMeteringPlanCatalog(plans, sp.GetRequiredService<TimeProvider>())
                .AddMeteringProjections(readStore, projections, accounts, sp.GetRequiredService<ProjectionTelemetry>());
        });
        builder.Services.AddMeteringIngestion(configuration, dataDir);
        builder.Services.AddMeteringTelemetry(configuration);
        builder.Services.AddMeteringUi(configuration, sp => sp.GetRequiredService<AdminKey>().Value);

        builder.Services.AddHealthChecks()
            .AddCheck<ClusterMemberUpCheck>("cluster", tags: ["ready"])
            .AddCheck<JournalReachableCheck>("journal", tags: ["ready"])
            .AddCheck<ConsumerAssignedCheck>("consumer", tags: ["ready"]);

        var app = builder.Build();
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseMiddleware<ApiAuthentication>();
        app.UseRateLimiter();

        var api = app.MapGroup("/api/v1").AddEndpointFilter<ApiAccessFilter>().AddEndpointFilter<AccountIdFilter>().AddEndpointFilter<AccountLogScope>();
        api.MapEventsEndpoints();
        api.MapAccountsEndpoints();
        api.MapPlansEndpoints();
        api.MapSubscriptionsEndpoints();
        api.MapBillingEndpoints();
        api.MapInvoicesEndpoints();
        api.MapInsightsEndpoints();
        api.MapSystemEndpoints();
        api.MapClusterEndpoints();
        api.MapKeysEndpoints();
        app.MapSessionEndpoints();
        api.MapUsageEndpoints();
        api.MapProjectionsEndpoints();

        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteHealth });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteHealth });
        // The API described at /openapi/v1.json, readable at /scalar/v1 (served by the host, no CDN).
        app.MapOpenApi();
        app.MapScalarApiReference();
        app.MapPrometheusScrapingEndpoint(); // GET /metrics, unauthenticated like the health checks
        app.MapMeteringUi(SessionEndpoints.SignInDemoAsync);

        app.Lifetime.ApplicationStarted.Register(() => PrintBanner(app, dataDir));
        return app;
    }

    private static void PrintBanner(WebApplication app, string dataDir)
    {
        var endpoint = app.Services.GetRequiredService<KafkaEndpoint>();
        var key = app.Services.GetRequiredService<AdminKey>();
        Console.WriteLine($"""

            Metering is running
              URL:             {string.Join(", ", app.Urls)}
              Kafka bootstrap: {endpoint.BootstrapServers}{(endpoint.Embedded ? " (embedded)" : "")}
              Data folder:     {dataDir}
              Admin key:       {(key.Generated ? key.Value : "(from configuration)")}

            """);
    }

    private static Task WriteHealth(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return JsonSerializer.SerializeAsync(context.Response.Body, new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), e.Value.Description }),
        }, JsonSerializerOptions.Web);
    }
}
