using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Hosting;

namespace Metering.Ui;

/// <summary>
/// The billing page: <c>/accounts/{id}/billing</c> serves one static page whose script calls the JSON
/// API with a key the user gives once (kept in sessionStorage); <c>/ui/*</c> serves its script and
/// styles from this assembly; <c>/</c> leads to the first demo account.
/// </summary>
/// <param name="Printed">True when the host prints the key at start anyway (it generated it).</param>
public sealed record UiApiKey(string Value, bool Printed);

public static class UiExtensions
{
    private const string Page = "billing.html";

    /// <param name="apiKey">The admin key: the demo seeder calls the API with it; it is never put in a page.</param>
    public static IServiceCollection AddMeteringUi(this IServiceCollection services, IConfiguration configuration, Func<IServiceProvider, UiApiKey> apiKey)
    {
        var demo = DemoOptions.From(configuration);
        services.AddSingleton(demo);
        services.AddSingleton<UiApiKey>(apiKey);
        if (demo.Enabled)
            services.AddHostedService(sp => new DemoSeeder(sp, demo, sp.GetRequiredService<UiApiKey>().Value));
        return services;
    }

    public static WebApplication MapMeteringUi(this WebApplication app)
    {
        var files = new EmbeddedFileProvider(typeof(UiExtensions).Assembly, "ui");
        var demo = app.Services.GetRequiredService<DemoOptions>();

        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            RequestPath = "/ui",
            OnPrepareResponse = c => c.Context.Response.Headers.CacheControl = "no-cache",
        });

        app.MapGet("/", () => Results.Redirect($"/accounts/{Uri.EscapeDataString(demo.DefaultAccount)}/billing")).ExcludeFromDescription();
        app.MapGet("/accounts/{accountId}/billing", (HttpContext context) =>
        {
            var headers = context.Response.Headers;
            headers.CacheControl = "no-cache";
            // Only our own files; no inline script; never framed (the page holds an API key).
            headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            return Results.Stream(files.GetFileInfo(Page).CreateReadStream(), "text/html; charset=utf-8");
        }).ExcludeFromDescription();

        // The generated key is printed already; this link opens the page with it (the fragment never
        // reaches a server or a log, and the page removes it from the address bar at once).
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var url = app.Urls.FirstOrDefault();
            var key = app.Services.GetRequiredService<UiApiKey>();
            if (url is not null && demo.Enabled && key.Printed)
                Console.WriteLine($"  Billing page:    {url}/accounts/{demo.DefaultAccount}/billing#key={key.Value}{Environment.NewLine}");
        });
        return app;
    }
}
