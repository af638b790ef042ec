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
/// The billing page: <c>/accounts/{id}/billing</c> serves one static page whose script signs in with
/// an account key once (exchanged for a session cookie, see the host's <c>/session</c>) and calls the
/// JSON API; <c>/ui/*</c> serves its script and styles from this assembly; <c>/</c> leads to the first
/// demo account.
/// </summary>
public static class UiExtensions
{
    private const string Page = "billing.html";

    /// <param name="adminKey">The demo seeder calls the API with it; it is never put in a page.</param>
    public static IServiceCollection AddMeteringUi(this IServiceCollection services, IConfiguration configuration, Func<IServiceProvider, string> adminKey)
    {
        var demo = DemoOptions.From(configuration);
        services.AddSingleton(demo);
        if (demo.Enabled)
            services.AddHostedService(sp => new DemoSeeder(sp, demo, adminKey(sp)));
        return services;
    }

    /// <param name="signInDemo">Gives the browser a session for a demo account (with the key the seeder made for it), so the demo page opens at once.</param>
    public static WebApplication MapMeteringUi(this WebApplication app, Func<HttpContext, string, Task> signInDemo)
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
        app.MapGet("/accounts/{accountId}/billing", async (HttpContext context, string accountId) =>
        {
            if (demo.Enabled && DemoSeeder.Accounts.Any(a => a.Id == accountId))
                await signInDemo(context, accountId);
            var headers = context.Response.Headers;
            headers.CacheControl = "no-cache";
            // Only our own files; no inline script; never framed (the page acts for a signed-in account).
            headers.ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            return Results.Stream(files.GetFileInfo(Page).CreateReadStream(), "text/html; charset=utf-8");
        }).ExcludeFromDescription();

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var url = app.Urls.FirstOrDefault();
            if (url is not null && demo.Enabled)
                Console.WriteLine($"  Billing page:    {url}/accounts/{demo.DefaultAccount}/billing (signed in as the demo account){Environment.NewLine}");
        });
        return app;
    }
}
