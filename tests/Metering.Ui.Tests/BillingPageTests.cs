using System.Text.Json;
using Microsoft.Playwright;
using static Microsoft.Playwright.Assertions;

namespace Metering.Ui.Tests;

/// <summary>The billing page in a real Chromium against a real engine. Tests that change an account use one of their own.</summary>
[Collection(BillingPageCollection.Name)]
public sealed class BillingPageTests(BillingPageFixture fixture)
{
    private static readonly string[] SpanishHeadings =
    [
        "Resumen de facturación", "Tus planes activos", "Historial de suscripción", "Facturas facturadas a usted",
        "Método de pago", "Descripción general del uso de mi servicio",
    ];

    [Fact]
    public async Task Root_leads_to_a_demo_account_and_the_page_opens_signed_in_with_its_seeded_billing()
    {
        var page = await fixture.OpenAsync("demo-acme", withKey: false);
        await page.GotoAsync(fixture.BaseUrl + "/");
        Assert.EndsWith("/accounts/demo-acme/billing", page.Url);
        await BillingPageFixture.WaitReadyAsync(page);
        var cookie = (await page.Context.CookiesAsync()).Single(c => c.Name == "metering_session");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);

        await Expect(page.Locator("h1")).ToHaveTextAsync("Billing");
        await Expect(page.Locator("#account-id")).ToHaveTextAsync("demo-acme");
        await Expect(page.Locator("#plans article")).ToHaveCountAsync(2);
        await Expect(page.Locator("#plans article").First).ToContainTextAsync("Pro");
        await Expect(page.Locator("#plans [role=progressbar]").First).ToBeVisibleAsync();
        await Expect(page.Locator("#card-list")).ToContainTextAsync("4242");
        await Expect(page.Locator("#ar-state")).ToContainTextAsync("On");
        await Expect(page.Locator("#history tbody tr")).ToHaveCountAsync(2);
        var balance = (await fixture.OverviewAsync("demo-acme")).GetProperty("balance").GetDecimal();
        await Expect(page.Locator("#balance")).ToHaveTextAsync(balance.ToString("$#,##0.00", System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task After_signing_out_the_page_asks_for_an_account_key_and_refuses_a_wrong_one_and_the_admin_key()
    {
        var page = await fixture.OpenAsync("demo-globex", withKey: false);
        await BillingPageFixture.WaitReadyAsync(page);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Expect(page.Locator("#key-section")).ToBeVisibleAsync();
        foreach (var refused in new[] { "not-the-key", BillingPageFixture.AdminKey })
        {
            await page.GetByRole(AriaRole.Textbox, new() { Name = "API key" }).FillAsync(refused);
            var answer = await page.RunAndWaitForResponseAsync(() => page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync(),
                r => r.Url.EndsWith("/session") && r.Request.Method == "POST");
            Assert.Contains(answer.Status, new[] { 401, 403 });
            await Expect(page.Locator("#key-error")).ToContainTextAsync("not accepted");
        }

        await page.GetByRole(AriaRole.Textbox, new() { Name = "API key" }).FillAsync(await fixture.AccountKeyAsync("demo-globex"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Continue" }).ClickAsync();
        await BillingPageFixture.WaitReadyAsync(page);
        await Expect(page.Locator("#plans article")).ToContainTextAsync("Starter");
    }

    [Fact]
    public async Task Add_a_card_then_add_funds_and_see_the_balance_change()
    {
        var page = await fixture.OpenAsync("ui-wallet");
        await Expect(page.Locator("#balance")).ToHaveTextAsync("$0.00");
        await Expect(page.Locator("#funds-form")).ToContainTextAsync("Add a card first");

        var form = page.Locator("#card-form");
        await form.GetByLabel("Name on card").FillAsync("Ada Lovelace");
        await form.GetByLabel("Card number").FillAsync("4242 4242 4242 4241");
        await form.GetByLabel("Expiry (MM/YY)").FillAsync("01/20");
        await form.GetByLabel("Security code (CVC)").FillAsync("12");
        await form.GetByRole(AriaRole.Button, new() { Name = "Add card" }).ClickAsync();
        // Checked in the page: nothing was sent.
        await Expect(page.Locator("#card-number-error")).ToHaveTextAsync("Enter a valid card number.");
        await Expect(page.Locator("#card-expiry-error")).ToHaveTextAsync("This card has expired.");
        await Expect(page.Locator("#card-cvc-error")).ToHaveTextAsync("Enter the 3 or 4 digit security code.");
        await Expect(page.Locator("#card-number")).ToHaveAttributeAsync("aria-invalid", "true");

        await form.GetByLabel("Card number").FillAsync("4242 4242 4242 4242");
        await form.GetByLabel("Expiry (MM/YY)").FillAsync($"12/{(DateTime.UtcNow.Year + 2) % 100:00}");
        await form.GetByLabel("Security code (CVC)").FillAsync("123");
        await form.GetByRole(AriaRole.Button, new() { Name = "Add card" }).ClickAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync("Card added.");
        await Expect(page.Locator("#card-list")).ToContainTextAsync("Visa •••• 4242");
        await Expect(page.Locator("#card-list")).ToContainTextAsync("Default card");
        await Expect(page.Locator("#card-number")).ToHaveValueAsync("");

        var funds = page.Locator("#funds-form");
        await funds.GetByLabel("Amount").FillAsync("25");
        await funds.GetByRole(AriaRole.Button, new() { Name = "Add funds" }).ClickAsync();
        await Expect(funds.Locator(".confirm")).ToContainTextAsync("Charge $25.00 to Visa •••• 4242?");
        await funds.GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync("$25.00 added to your balance.");
        await Expect(page.Locator("#balance")).ToHaveTextAsync("$25.00");
        Assert.Equal(25m, (await fixture.OverviewAsync("ui-wallet")).GetProperty("balance").GetDecimal());
    }

    [Fact]
    public async Task A_declined_card_shows_the_servers_problem()
    {
        await AccountWithCardAsync("ui-declined", "4000000000000002");
        var page = await fixture.OpenAsync("ui-declined");
        var funds = page.Locator("#funds-form");
        await funds.GetByRole(AriaRole.Button, new() { Name = "Add funds" }).ClickAsync();
        await funds.GetByRole(AriaRole.Button, new() { Name = "Confirm" }).ClickAsync();
        await Expect(funds.Locator(".error")).ToContainTextAsync("declined");
        await Expect(page.Locator("#balance")).ToHaveTextAsync("$0.00");
    }

    [Fact]
    public async Task Turn_auto_recharge_on()
    {
        await AccountWithCardAsync("ui-recharge", "4242424242424242", funds: 100m);
        var page = await fixture.OpenAsync("ui-recharge");
        await Expect(page.Locator("#ar-state")).ToHaveTextAsync("Off");

        var form = page.Locator("#auto-recharge-form");
        await form.GetByRole(AriaRole.Switch, new() { Name = "Auto-recharge" }).CheckAsync();
        await form.GetByLabel("When the balance falls under").FillAsync("10");
        await form.GetByLabel("Recharge amount").FillAsync("30");
        await form.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync("Saved.");
        await Expect(page.Locator("#ar-state")).ToHaveTextAsync("On: when the balance falls under $10.00, $30.00 is charged to Visa •••• 4242.");
        var autoRecharge = (await fixture.OverviewAsync("ui-recharge")).GetProperty("autoRecharge");
        Assert.True(autoRecharge.GetProperty("enabled").GetBoolean());
        Assert.Equal(10m, autoRecharge.GetProperty("threshold").GetDecimal());
    }

    [Fact]
    public async Task Subscribe_to_a_plan_and_see_it_with_its_quotas()
    {
        await AccountWithCardAsync("ui-subscribe", "4242424242424242", funds: 100m);
        var page = await fixture.OpenAsync("ui-subscribe");
        await Expect(page.Locator("#plans .empty")).ToBeVisibleAsync();

        var form = page.Locator("#subscribe-form");
        await form.GetByLabel("Plan").SelectOptionAsync("starter");
        await form.GetByLabel("Team (optional)").FillAsync("sales");
        await form.GetByRole(AriaRole.Button, new() { Name = "Subscribe" }).ClickAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync("Subscribed to Starter.");
        var plan = page.Locator("#plans article");
        await Expect(plan).ToHaveCountAsync(1);
        await Expect(plan).ToContainTextAsync("Starter");
        await Expect(plan).ToContainTextAsync("Team: sales");
        await Expect(plan.Locator("[role=progressbar]")).ToHaveCountAsync(3);
        await Expect(page.Locator("#balance")).ToHaveTextAsync("$81.00");
        // The history is a read-side list: it trails the account by the projections' lag.
        await fixture.CaughtUpAsync();
        await page.ReloadAsync();
        await BillingPageFixture.WaitReadyAsync(page);
        await Expect(page.Locator("#history tbody tr")).ToHaveCountAsync(1);
    }

    [Fact]
    public async Task An_invoice_downloads_as_pdf_when_the_server_issues_invoices()
    {
        var page = await fixture.OpenAsync("demo-acme");
        using var probe = await fixture.Http.GetAsync("/api/v1/accounts/demo-acme/invoices");
        if (probe.StatusCode == System.Net.HttpStatusCode.NotFound)
        {
            await Expect(page.Locator("#invoices .empty")).ToContainTextAsync("not available on this server yet");
            return;
        }
        var row = page.Locator("#invoices tbody tr").First;
        await Expect(row).ToBeVisibleAsync();
        var download = await page.RunAndWaitForDownloadAsync(() => row.GetByRole(AriaRole.Button, new() { Name = "Download PDF" }).ClickAsync());
        var path = await download.PathAsync();
        var head = new byte[5];
        await using (var file = File.OpenRead(path)) await file.ReadExactlyAsync(head);
        Assert.Equal("%PDF-", System.Text.Encoding.ASCII.GetString(head));
        Assert.EndsWith(".pdf", download.SuggestedFilename);
    }

    [Fact]
    public async Task Switch_to_Spanish_and_see_Spanish_headings_and_formats()
    {
        var page = await fixture.OpenAsync("demo-globex");
        await page.GetByLabel("Language").SelectOptionAsync("es");
        await Expect(page.Locator("h1")).ToHaveTextAsync("Facturación");
        await Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "es");
        var headings = await page.Locator("main h2").AllTextContentsAsync();
        foreach (var heading in SpanishHeadings) Assert.Contains(heading, headings);
        await Expect(page.Locator("#balance")).ToContainTextAsync(",");
        await Expect(page.Locator("#balance")).ToContainTextAsync("US$");

        // The choice is kept, and a Spanish browser gets Spanish from the start.
        await page.ReloadAsync();
        await Expect(page.Locator("h1")).ToHaveTextAsync("Facturación");
        var spanish = await fixture.OpenAsync("demo-globex", locale: "es-ES");
        await Expect(spanish.Locator("#overview h2")).ToHaveTextAsync("Resumen de facturación");
    }

    [Fact]
    public async Task The_usage_chart_renders_bars_with_quota_lines()
    {
        var page = await fixture.OpenAsync("demo-acme");
        var chart = page.Locator("#usage-by-meter svg");
        await Expect(chart).ToHaveAttributeAsync("role", "img");
        await Expect(chart.Locator("rect.chart-bar")).ToHaveCountAsync(3);
        await Expect(chart.Locator("line.chart-limit")).ToHaveCountAsync(3);
        var width = await chart.Locator("rect.chart-bar").First.GetAttributeAsync("width");
        Assert.True(double.Parse(width!, System.Globalization.CultureInfo.InvariantCulture) > 10);
        await Expect(page.Locator("#usage-by-plan svg")).ToHaveCountAsync(3);
        await Expect(page.Locator("#plan-fit")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task The_overview_says_when_the_balance_runs_out_at_the_recent_burn()
    {
        // The plan's fee is the week's only debit: 19.00 / 7 days, and 81.00 lasts 29.8 of those days (the clock stands still).
        await AccountWithCardAsync("ui-burn", "4242424242424242", funds: 100m);
        await fixture.PostAsync("/api/v1/accounts/ui-burn/subscriptions", new { planId = "starter" });
        var forecast = await fixture.GetAsync("/api/v1/accounts/ui-burn/insights/forecast");
        Assert.Equal(2.71m, forecast.GetProperty("burnPerDay").GetDecimal());
        var runsOut = forecast.GetProperty("balanceRunsOutAt").GetDateTimeOffset();

        var page = await fixture.OpenAsync("ui-burn");
        await Expect(page.Locator("#forecast")).ToHaveTextAsync(
            $"Run-out forecast: At the last 7 days' pace ($2.71 a day) your balance runs out around {runsOut.UtcDateTime.ToString("MMM d, yyyy", System.Globalization.CultureInfo.InvariantCulture)}, in about 29 days.");
    }

    [Fact]
    public async Task The_overview_forecasts_the_next_auto_recharge_and_the_plans_their_quota_run_out()
    {
        var forecast = await fixture.GetAsync("/api/v1/accounts/demo-acme/insights/forecast");
        var autoRecharge = forecast.GetProperty("autoRecharge");
        Assert.True(autoRecharge.GetProperty("enabled").GetBoolean());
        var page = await fixture.OpenAsync("demo-acme");
        await Expect(page.Locator("#forecast")).ToContainTextAsync(autoRecharge.GetProperty("nextAt").ValueKind == JsonValueKind.Null
            ? "auto-recharge is not expected to fire"
            : "auto-recharge then adds $100.00");

        // A quota gets its run-out next to its bar once anything draws it.
        var drawn = forecast.GetProperty("quotas").EnumerateArray()
            .Count(q => q.GetProperty("perDay").GetDecimal() > 0 || q.GetProperty("remaining").GetDecimal() == 0);
        Assert.True(drawn > 0, "the demo history draws the quotas");
        await Expect(page.Locator("#plans .quota-forecast")).ToHaveCountAsync(drawn);

        await page.GetByLabel("Language").SelectOptionAsync("es");
        await Expect(page.Locator("#forecast")).ToContainTextAsync("Previsión de agotamiento");
    }

    [Fact]
    public async Task Plan_fit_lists_what_each_plan_would_have_cost_and_names_the_cheapest_that_covers_the_usage()
    {
        var fit = await fixture.GetAsync("/api/v1/accounts/demo-acme/insights/plan-fit?periods=3");
        var periods = fit.GetProperty("periods").GetArrayLength();
        Assert.True(periods >= 1, "the fixture's history closes a billing period");
        var options = fit.GetProperty("options").EnumerateArray().ToList();
        var cheapest = fit.GetProperty("cheapest");
        Assert.Equal(JsonValueKind.Object, cheapest.ValueKind);

        var page = await fixture.OpenAsync("demo-acme");
        var box = page.Locator("#plan-fit");
        await Expect(box.Locator("h3")).ToHaveTextAsync("Plan fit");
        await Expect(box.Locator("thead th")).ToHaveCountAsync(periods + 3);
        await Expect(box.Locator("tbody tr")).ToHaveCountAsync(options.Count);
        var named = box.Locator("tbody tr", new() { Has = page.GetByText("Cheapest", new() { Exact = true }) });
        await Expect(named).ToHaveCountAsync(1);
        await Expect(named.Locator("th")).ToContainTextAsync(cheapest.GetProperty("label").GetString()!);
        await Expect(named.Locator("td strong")).ToHaveTextAsync(Usd(cheapest.GetProperty("total").GetDecimal()));
        var current = fit.GetProperty("current").GetProperty("planIds").EnumerateArray().Select(x => x.GetString()).ToArray();
        var verdict = cheapest.GetProperty("planIds").EnumerateArray().Select(x => x.GetString()).SequenceEqual(current)
            ? "Your current plans were the cheapest"
            : $"{Usd(fit.GetProperty("saving").GetDecimal())} less than your current plans";
        await Expect(box.Locator(".verdict")).ToContainTextAsync(verdict);

        // Options that leave usage unpriced are listed, last, and never named.
        var uncovered = options.Count(o => !o.GetProperty("coversUsage").GetBoolean());
        Assert.True(uncovered > 0, "an add-on pack alone does not cover leads");
        await Expect(box.Locator("tbody tr", new() { HasText = "Leaves some usage unpriced" })).ToHaveCountAsync(uncovered);
        await Expect(box.Locator("tbody tr").Last).ToContainTextAsync("Leaves some usage unpriced");

        await page.GetByLabel("Language").SelectOptionAsync("es");
        await Expect(box.Locator("h3")).ToHaveTextAsync("Ajuste del plan");
        await Expect(box.Locator("thead th").First).ToHaveTextAsync("Opción");
        await Expect(named).ToHaveCountAsync(0);
        await Expect(box.Locator("tbody tr", new() { Has = page.GetByText("El más barato", new() { Exact = true }) })).ToHaveCountAsync(1);
    }

    [Fact]
    public async Task Usage_over_time_charts_each_meter_and_re_renders_by_period_and_breakdown()
    {
        var page = await fixture.OpenAsync("demo-acme");
        var section = page.Locator("#usage-over-time");
        await Expect(section.Locator("figure")).ToHaveCountAsync(3);
        var leads = section.Locator("figure[data-meter=lead]");
        await Expect(leads.Locator("svg")).ToHaveAttributeAsync("role", "img");
        await Expect(leads.Locator("svg title").First).ToHaveTextAsync("Leads · per day");
        // Fourteen days of the fixture's history, one bar each, and the quota's daily share as a line.
        await Expect(leads.Locator("rect.chart-bar")).ToHaveCountAsync(await BarsAsync("day", null, "lead"));
        await Expect(leads.Locator("rect.chart-bar")).ToHaveCountAsync(14);
        await Expect(leads.Locator("line.chart-limit")).ToHaveCountAsync(1);

        var usage = await UsageAsync("day", null);
        var rows = section.Locator("#usage-summary tbody tr");
        await Expect(rows).ToHaveCountAsync(3);
        await Expect(rows.First).ToContainTextAsync(Usd(usage.GetProperty("totals").GetProperty("lead").GetProperty("amount").GetDecimal()));
        await Expect(rows.First).ToContainTextAsync(usage.GetProperty("trend").GetProperty("previous").GetProperty("change").GetProperty("lead") is { ValueKind: JsonValueKind.Number } c
            ? c.GetDecimal().ToString("+0%;-0%;0%", System.Globalization.CultureInfo.InvariantCulture)
            : "no usage to compare");
        await Expect(section.Locator("#usage-as-of")).ToContainTextAsync("Figures as of");

        foreach (var granularity in new[] { "week", "month" })
        {
            await section.GetByLabel("Period", new() { Exact = true }).SelectOptionAsync(granularity);
            await Expect(leads.Locator("svg title").First).ToHaveTextAsync($"Leads · per {granularity}");
            await Expect(leads.Locator("rect.chart-bar")).ToHaveCountAsync(await BarsAsync(granularity, null, "lead"));
            await Expect(section.GetByLabel("Period", new() { Exact = true })).ToBeFocusedAsync();
        }

        await section.GetByLabel("Period", new() { Exact = true }).SelectOptionAsync("day");
        foreach (var (groupBy, shown) in new[] { ("team", "support"), ("user", "carla"), ("plan", "Pro") })
        {
            await section.GetByLabel("Break down by").SelectOptionAsync(groupBy);
            await Expect(section.Locator(".legend")).ToContainTextAsync(shown);
            await Expect(leads.Locator("rect.chart-bar")).ToHaveCountAsync(await BarsAsync("day", groupBy, "lead"));
        }

        await page.GetByLabel("Language").SelectOptionAsync("es");
        await Expect(section.Locator("h3")).ToHaveTextAsync("Uso a lo largo del tiempo");
        await Expect(section.GetByLabel("Desglosar por")).ToHaveValueAsync("plan");
        await Expect(leads.Locator("svg title").First).ToHaveTextAsync("Clientes potenciales · por día");
        await Expect(section.Locator("#usage-summary thead")).ToContainTextAsync("Frente al periodo anterior");
    }

    /// <summary>The usage window the page asks for: the last 14 days, 8 weeks or 6 months up to the engine's now.</summary>
    private async Task<JsonElement> UsageAsync(string granularity, string? groupBy)
    {
        var to = (await fixture.OverviewAsync("demo-acme")).GetProperty("asOf").GetDateTimeOffset();
        var from = new DateTimeOffset(to.UtcDateTime.Date, TimeSpan.Zero).AddDays(1 - granularity switch { "day" => 14, "week" => 56, _ => 186 });
        return await fixture.GetAsync($"/api/v1/accounts/demo-acme/usage?from={Uri.EscapeDataString(from.ToString("O"))}&to={Uri.EscapeDataString(to.ToString("O"))}"
            + $"&granularity={granularity}{(groupBy is null ? "" : $"&groupBy={groupBy}")}");
    }

    /// <summary>Stacked bars drawn for a meter: one per group and period with usage.</summary>
    private async Task<int> BarsAsync(string granularity, string? groupBy, string meter) =>
        (await UsageAsync(granularity, groupBy)).GetProperty("series").EnumerateArray()
            .Where(s => s.GetProperty("meter").GetString() == meter)
            .Sum(s => s.GetProperty("points").EnumerateArray().Count(p => p.GetProperty("quantity").GetDecimal() > 0));

    private static string Usd(decimal amount) => amount.ToString("$#,##0.00", System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public async Task The_page_fits_a_phone_and_is_usable_by_keyboard()
    {
        var page = await fixture.OpenAsync("demo-acme", width: 390, height: 844);
        var overflow = await page.EvaluateAsync<bool>("() => document.documentElement.scrollWidth > window.innerWidth");
        Assert.False(overflow, "the page scrolls sideways at phone width");
        await page.Keyboard.PressAsync("Tab");
        await Expect(page.Locator(".skip")).ToBeFocusedAsync();
        // Every form control has a label.
        var unlabelled = await page.EvaluateAsync<int>("() => [...document.querySelectorAll('main input, main select')].filter(e => !e.labels?.length).length");
        Assert.Equal(0, unlabelled);
    }

    /// <summary>Prepares an account through the API: a default card and, when asked, funds on it.</summary>
    private async Task AccountWithCardAsync(string accountId, string number, decimal funds = 0)
    {
        await fixture.PostAsync($"/api/v1/accounts/{accountId}/payment-methods",
            new { type = "card", number, expMonth = 12, expYear = DateTime.UtcNow.Year + 2, cvc = "123", holderName = "Test Holder", makeDefault = true });
        if (funds > 0) await fixture.PostAsync($"/api/v1/accounts/{accountId}/funds", new { amount = funds, idempotencyKey = $"{accountId}-funds" });
    }
}
