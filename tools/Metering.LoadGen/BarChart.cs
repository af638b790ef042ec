using System.Globalization;
using System.Net;
using System.Text;

namespace Metering.LoadGen;

/// <summary>A horizontal bar chart as SVG: readable in a browser and on GitHub, no plotting library needed.</summary>
public static class BarChart
{
    public static string Svg(string title, string unit, IReadOnlyList<(string Label, double Value)> bars)
    {
        const int labelWidth = 260, barWidth = 460, rowHeight = 30, top = 40;
        var max = Math.Max(bars.Max(b => b.Value), 1);
        var height = top + bars.Count * rowHeight + 20;
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{labelWidth + barWidth + 120}" height="{height}" font-family="sans-serif" font-size="13">""");
        svg.Append(CultureInfo.InvariantCulture, $"""<rect width="100%" height="100%" fill="white"/><text x="10" y="24" font-size="15" font-weight="bold">{WebUtility.HtmlEncode(title)}</text>""");
        for (var i = 0; i < bars.Count; i++)
        {
            var (label, value) = bars[i];
            var y = top + i * rowHeight;
            var width = value / max * barWidth;
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{labelWidth - 8}" y="{y + 18}" text-anchor="end">{WebUtility.HtmlEncode(label)}</text>""");
            svg.Append(CultureInfo.InvariantCulture, $"""<rect x="{labelWidth}" y="{y + 4}" width="{width:0.#}" height="{rowHeight - 8}" fill="#3b6fb6"/>""");
            svg.Append(CultureInfo.InvariantCulture, $"""<text x="{labelWidth + width + 6:0.#}" y="{y + 18}">{value.ToString("N0", CultureInfo.InvariantCulture)} {WebUtility.HtmlEncode(unit)}</text>""");
        }
        svg.Append("</svg>");
        return svg.ToString();
    }
}
