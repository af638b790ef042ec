using Microsoft.Playwright;

namespace Metering.Ui.Tests;

/// <summary>
/// Writes docs/screenshots/{lang}-{desktop|phone}-{section}.png for every section, in both languages,
/// at desktop and phone width (the README shows a few of them).
/// </summary>
[Collection(BillingPageCollection.Name)]
public sealed class Screenshots(BillingPageFixture fixture)
{
    public static readonly string[] Sections = ["overview", "plans", "history", "invoices", "payment", "usage", "preferences"];

    [Theory]
    [InlineData("en-US", "desktop", 1280, 900)]
    [InlineData("en-US", "phone", 390, 844)]
    [InlineData("es-ES", "desktop", 1280, 900)]
    [InlineData("es-ES", "phone", 390, 844)]
    public async Task Every_section_in_both_languages_at_desktop_and_phone_width(string locale, string size, int width, int height)
    {
        var folder = Path.Combine(BillingPageFixture.RepositoryRoot(), "docs", "screenshots");
        Directory.CreateDirectory(folder);
        var page = await fixture.OpenAsync("demo-acme", width, height, locale);
        var lang = locale[..2];
        await page.ScreenshotAsync(new() { Path = Path.Combine(folder, $"{lang}-{size}-top.png") });
        foreach (var section in Sections)
        {
            var file = Path.Combine(folder, $"{lang}-{size}-{section}.png");
            await page.Locator($"#{section}").ScreenshotAsync(new() { Path = file, Animations = ScreenshotAnimations.Disabled });
            Assert.True(new FileInfo(file).Length > 2_000, $"{file} looks empty");
        }
    }
}
