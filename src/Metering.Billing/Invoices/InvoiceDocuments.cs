using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;
using Metering.Domain.Accounts;
using PdfSharp.Drawing;
using PdfSharp.Fonts;
using PdfSharp.Pdf;

namespace Metering.Billing.Invoices;

/// <summary>An invoice as a PDF to download and as an HTML page to print. Both show the same things.</summary>
public static class InvoiceDocuments
{
    private const string Family = "Liberation Sans";
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    static InvoiceDocuments() => EmbeddedFonts.Install();

    public static string Title(Invoice invoice) => invoice.Kind == InvoiceKind.Receipt ? $"Receipt {invoice.Number}" : $"Invoice {invoice.Number}";

    public static string Money(decimal amount, string currency) => $"{amount.ToString("N2", Invariant)} {currency}";

    private static IEnumerable<(string Label, string Value)> Facts(Invoice i) =>
    [
        ("Issued", i.IssuedAt.ToString("yyyy-MM-dd", Invariant)),
        ("Due", i.DueAt.ToString("yyyy-MM-dd", Invariant)),
        ("Status", i.Status.ToString().ToLowerInvariant()),
        .. i.PeriodStart is { } start && i.PeriodEnd is { } end
            ? new[] { ("Period", $"{start:yyyy-MM-dd} to {end:yyyy-MM-dd}") }
            : [],
    ];

    private static IEnumerable<(string Label, string Value)> Totals(Invoice i) =>
    [
        ("Subtotal", Money(i.Subtotal, i.Currency)),
        ($"Tax ({(i.TaxRate * 100).ToString("0.##", Invariant)} %)", Money(i.Tax, i.Currency)),
        ("Total", Money(i.Total, i.Currency)),
        ("Amount paid", Money(i.AmountPaid, i.Currency)),
        ("Amount due", Money(i.AmountDue, i.Currency)),
    ];

    private static IEnumerable<string> BillTo(Invoice i) =>
        new[] { i.BillTo?.Name, i.BillTo?.Address, i.BillTo?.Country, i.BillTo?.TaxId is { } tax ? $"Tax id {tax}" : null, i.BillTo?.Email }
            .OfType<string>();

    public static byte[] Pdf(Invoice invoice, string accountId)
    {
        using var document = new PdfDocument();
        document.Info.Title = Title(invoice);
        document.Info.Subject = $"{Title(invoice)}, total {Money(invoice.Total, invoice.Currency)}";
        document.Info.Author = "Metering";
        var page = document.AddPage();
        using (var gfx = XGraphics.FromPdfPage(page))
        {
            var regular = new XFont(Family, 10, XFontStyleEx.Regular);
            var bold = new XFont(Family, 10, XFontStyleEx.Bold);
            var heading = new XFont(Family, 18, XFontStyleEx.Bold);
            double left = 50, right = page.Width.Point - 50, y = 60;

            gfx.DrawString(Title(invoice), heading, XBrushes.Black, left, y);
            y += 26;
            gfx.DrawString($"Account {accountId}", regular, XBrushes.Black, left, y);
            foreach (var (label, value) in Facts(invoice))
            {
                y += 14;
                gfx.DrawString($"{label}: {value}", regular, XBrushes.Black, left, y);
            }
            y += 24;
            gfx.DrawString("Bill to", bold, XBrushes.Black, left, y);
            foreach (var line in BillTo(invoice).DefaultIfEmpty(accountId))
            {
                y += 14;
                gfx.DrawString(line, regular, XBrushes.Black, left, y);
            }

            y += 30;
            gfx.DrawString("Description", bold, XBrushes.Black, left, y);
            gfx.DrawString("Quantity", bold, XBrushes.Black, new XRect(right - 200, y - 10, 80, 14), XStringFormats.TopRight);
            gfx.DrawString("Amount", bold, XBrushes.Black, new XRect(right - 110, y - 10, 110, 14), XStringFormats.TopRight);
            gfx.DrawLine(XPens.Gray, left, y + 6, right, y + 6);
            foreach (var line in invoice.Lines)
            {
                y += 18;
                gfx.DrawString(line.Description, regular, XBrushes.Black, left, y);
                gfx.DrawString(line.Quantity.ToString("0.####", Invariant), regular, XBrushes.Black, new XRect(right - 200, y - 10, 80, 14), XStringFormats.TopRight);
                gfx.DrawString(Money(line.Amount, invoice.Currency), regular, XBrushes.Black, new XRect(right - 110, y - 10, 110, 14), XStringFormats.TopRight);
            }
            y += 12;
            gfx.DrawLine(XPens.Gray, left, y, right, y);
            foreach (var (label, value) in Totals(invoice))
            {
                y += 18;
                var font = label == "Total" ? bold : regular;
                gfx.DrawString(label, font, XBrushes.Black, new XRect(right - 300, y - 10, 180, 14), XStringFormats.TopRight);
                gfx.DrawString(value, font, XBrushes.Black, new XRect(right - 110, y - 10, 110, 14), XStringFormats.TopRight);
            }
        }
        using var stream = new MemoryStream();
        document.Save(stream);
        return stream.ToArray();
    }

    public static string Html(Invoice invoice, string accountId)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        var html = new StringBuilder();
        html.Append($$"""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{{E(Title(invoice))}}</title>
            <style>
              body { font-family: "Liberation Sans", Arial, sans-serif; color: #111; max-width: 800px; margin: 2rem auto; padding: 0 1rem; }
              table { width: 100%; border-collapse: collapse; margin-top: 1.5rem; }
              th, td { padding: .4rem; border-bottom: 1px solid #ccc; text-align: left; }
              td.n, th.n { text-align: right; }
              .totals td { border: none; }
              .actions { margin: 1rem 0; }
              @media print { .actions { display: none; } body { margin: 0; max-width: none; } @page { margin: 15mm; } }
            </style></head><body>
            <div class="actions"><button onclick="window.print()">Print</button></div>
            <h1>{{E(Title(invoice))}}</h1>
            <p>Account {{E(accountId)}}</p>
            <dl>
            """);
        foreach (var (label, value) in Facts(invoice)) html.Append($"<dt>{E(label)}</dt><dd>{E(value)}</dd>");
        html.Append("</dl><h2>Bill to</h2><address>");
        html.AppendJoin("<br>", BillTo(invoice).DefaultIfEmpty(accountId).Select(E));
        html.Append("</address><table><thead><tr><th>Description</th><th class=\"n\">Quantity</th><th class=\"n\">Amount</th></tr></thead><tbody>");
        foreach (var line in invoice.Lines)
            html.Append($"<tr><td>{E(line.Description)}</td><td class=\"n\">{line.Quantity.ToString("0.####", Invariant)}</td><td class=\"n\">{E(Money(line.Amount, invoice.Currency))}</td></tr>");
        html.Append("</tbody><tbody class=\"totals\">");
        foreach (var (label, value) in Totals(invoice))
            html.Append($"<tr><td></td><th class=\"n\">{E(label)}</th><td class=\"n\">{E(value)}</td></tr>");
        html.Append("</tbody></table></body></html>");
        return html.ToString();
    }

    /// <summary>PDFsharp finds no fonts on Linux by itself: it gets Liberation Sans from this assembly.</summary>
    private sealed class EmbeddedFonts : IFontResolver
    {
        private static readonly Lock Gate = new();

        public static void Install()
        {
            lock (Gate)
            {
                if (GlobalFontSettings.FontResolver is not EmbeddedFonts) GlobalFontSettings.FontResolver = new EmbeddedFonts();
            }
        }

        public FontResolverInfo? ResolveTypeface(string familyName, bool isBold, bool isItalic) =>
            new(isBold ? "LiberationSans-Bold" : "LiberationSans-Regular");

        public byte[]? GetFont(string faceName)
        {
            using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"Metering.Billing.Fonts.{faceName}.ttf");
            if (stream is null) return null;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return copy.ToArray();
        }
    }
}
