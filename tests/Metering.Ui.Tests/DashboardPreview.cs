using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Metering.Tests.Shared;

namespace Metering.Ui.Tests;

/// <summary>
/// A preview of the shipped Grafana dashboard without Grafana: reads
/// <c>deploy/grafana/dashboards/metering.json</c>, evaluates each panel's PromQL over a series of real
/// <c>/metrics</c> scrapes, and draws the panels where the JSON places them (24 columns, 30 px a
/// row unit). Only the PromQL the dashboard uses is understood: <c>sum</c>/<c>max</c> with or without
/// <c>by</c>, <c>rate</c>/<c>increase</c> over a range, <c>histogram_quantile</c> and bare metric
/// names; anything else fails loudly instead of drawing something made up. Rates and increases are
/// taken between the scrapes inside the range, without Prometheus's extrapolation to the range's edges.
/// </summary>
public static class DashboardPreview
{
    public sealed record Point(DateTimeOffset At, double Value);

    public sealed record Series(string Legend, IReadOnlyList<Point> Points);

    public sealed record Panel(string Title, string Type, string? Unit, int X, int Y, int W, int H, IReadOnlyList<Series> Series);

    /// <summary>A scrape as Prometheus stores it: every sample also labelled with the target's <c>instance</c> and <c>job</c>.</summary>
    public sealed record Scrape(DateTimeOffset At, IReadOnlyList<PrometheusScrape.Sample> Samples);

    public static Scrape Labelled(DateTimeOffset at, PrometheusScrape scrape, string instance) =>
        new(at, scrape.Samples.Select(s => s with
        {
            Labels = new Dictionary<string, string>(s.Labels) { ["instance"] = instance, ["job"] = "metering" },
        }).ToList());

    /// <summary>Every panel of the dashboard with its series evaluated at every scrape but the first.</summary>
    public static IReadOnlyList<Panel> Evaluate(JsonElement dashboard, IReadOnlyList<Scrape> history)
    {
        var panels = new List<Panel>();
        foreach (var p in dashboard.GetProperty("panels").EnumerateArray())
        {
            var grid = p.GetProperty("gridPos");
            var type = p.GetProperty("type").GetString()!;
            var series = new Dictionary<string, List<Point>>(StringComparer.Ordinal);
            if (type != "row")
            {
                foreach (var target in p.GetProperty("targets").EnumerateArray())
                {
                    var node = new Parser(target.GetProperty("expr").GetString()!).Parse();
                    var legend = target.TryGetProperty("legendFormat", out var l) ? l.GetString() ?? "" : "";
                    for (var i = 1; i < history.Count; i++)
                    {
                        foreach (var (labels, value) in node.Eval(history, i))
                        {
                            if (double.IsNaN(value)) continue;
                            var name = Legend(legend, labels);
                            (series.TryGetValue(name, out var points) ? points : series[name] = []).Add(new Point(history[i].At, value));
                        }
                    }
                }
            }
            var unit = p.TryGetProperty("fieldConfig", out var fc) && fc.GetProperty("defaults").TryGetProperty("unit", out var u) ? u.GetString() : null;
            panels.Add(new Panel(p.GetProperty("title").GetString()!, type, unit, grid.GetProperty("x").GetInt32(), grid.GetProperty("y").GetInt32(),
                grid.GetProperty("w").GetInt32(), grid.GetProperty("h").GetInt32(), series.Select(s => new Series(s.Key, s.Value)).ToList()));
        }
        return panels;
    }

    private static string Legend(string format, IReadOnlyDictionary<string, string> labels)
    {
        if (format.Length == 0) return labels.Count == 0 ? "value" : "{" + string.Join(", ", labels.Select(l => $"{l.Key}=\"{l.Value}\"")) + "}";
        var text = format;
        foreach (var (key, value) in labels) text = text.Replace("{{" + key + "}}", value, StringComparison.Ordinal);
        // As Grafana does, a label the series does not have reads as empty.
        return Regex.Replace(text, @"\{\{\s*\w+\s*\}\}", "").Trim();
    }

    private static readonly string[] Palette = ["#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2", "#B877D9", "#FADE2A", "#96D98D", "#CA95E5"];
    private const int PageWidth = 1600;
    private const int RowUnit = 30;

    /// <summary>The panels as a page in Grafana's dark colours, with a caption that says what it is.</summary>
    public static string Html(string title, IReadOnlyList<Panel> panels, string caption)
    {
        var column = (PageWidth - 16) / 24.0;
        var html = new StringBuilder();
        html.Append($$"""
            <!doctype html><html><head><meta charset="utf-8"><style>
            body { margin: 0; background: #111217; color: #ccccdc; font: 12px Inter, "DejaVu Sans", Arial, sans-serif; width: {{PageWidth}}px; }
            header { padding: 10px 8px 6px; } header h1 { font-size: 18px; margin: 0 0 4px; color: #fff; font-weight: 500; } header p { margin: 0; color: #9fa0ae; }
            .grid { position: relative; margin: 0 8px 8px; }
            .panel { position: absolute; box-sizing: border-box; background: #181b1f; border: 1px solid #2a2d35; border-radius: 2px; padding: 6px 8px; overflow: hidden; }
            .panel h2 { font-size: 13px; margin: 0 0 4px; color: #fff; font-weight: 500; }
            .row { position: absolute; font-size: 14px; color: #fff; font-weight: 500; padding-top: 6px; }
            .legend { display: flex; flex-wrap: wrap; gap: 2px 12px; margin-top: 2px; }
            .legend span i { display: inline-block; width: 12px; height: 3px; margin-right: 4px; vertical-align: middle; }
            .empty { color: #9fa0ae; padding: 40px 0; text-align: center; }
            </style></head><body><header><h1>{{WebUtility.HtmlEncode(title)}}</h1><p>{{WebUtility.HtmlEncode(caption)}}</p></header>
            """);
        var height = panels.Max(p => p.Y + p.H) * RowUnit;
        html.Append($"<div class=\"grid\" style=\"height:{height}px\">");
        foreach (var p in panels)
        {
            var style = FormattableString.Invariant($"left:{p.X * column:0}px;top:{p.Y * RowUnit}px;width:{p.W * column - 6:0}px;height:{p.H * RowUnit - 6}px");
            if (p.Type == "row")
            {
                html.Append($"<div class=\"row\" style=\"{style}\">{WebUtility.HtmlEncode(p.Title)}</div>");
                continue;
            }
            html.Append($"<div class=\"panel\" style=\"{style}\"><h2>{WebUtility.HtmlEncode(p.Title)}</h2>");
            var chartWidth = (int)(p.W * column - 6 - 18);
            var legendRows = Math.Min(3, (p.Series.Count + 2) / 3);
            var chartHeight = p.H * RowUnit - 6 - 30 - legendRows * 16;
            html.Append(p.Series.Count == 0 ? $"<div class=\"empty\" style=\"height:{chartHeight - 80}px\">No data</div>" : Chart(p, chartWidth, chartHeight));
            html.Append("<div class=\"legend\">");
            for (var i = 0; i < p.Series.Count; i++)
                html.Append($"<span><i style=\"background:{Palette[i % Palette.Length]}\"></i>{WebUtility.HtmlEncode(p.Series[i].Legend)}</span>");
            html.Append("</div></div>");
        }
        html.Append("</div></body></html>");
        return html.ToString();
    }

    private static string Chart(Panel panel, int width, int height)
    {
        const int left = 56, bottom = 18, top = 6;
        var points = panel.Series.SelectMany(s => s.Points).ToList();
        var (t0, t1) = (points.Min(p => p.At), points.Max(p => p.At));
        var span = Math.Max(1, (t1 - t0).TotalSeconds);
        var max = NiceCeiling(points.Max(p => p.Value));
        var plotW = width - left - 4;
        var plotH = height - bottom - top;
        double X(DateTimeOffset at) => left + (at - t0).TotalSeconds / span * plotW;
        double Y(double v) => top + plotH - v / max * plotH;

        var svg = new StringBuilder(FormattableString.Invariant($"<svg width=\"{width}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">"));
        for (var g = 0; g <= 4; g++)
        {
            var v = max * g / 4;
            svg.Append(FormattableString.Invariant($"<line x1=\"{left}\" x2=\"{left + plotW}\" y1=\"{Y(v):0.#}\" y2=\"{Y(v):0.#}\" stroke=\"#2a2d35\"/>"));
            svg.Append(FormattableString.Invariant($"<text x=\"{left - 4}\" y=\"{Y(v) + 4:0.#}\" fill=\"#9fa0ae\" font-size=\"10\" text-anchor=\"end\">{WebUtility.HtmlEncode(Format(v, panel.Unit))}</text>"));
        }
        svg.Append(FormattableString.Invariant($"<text x=\"{left}\" y=\"{height - 4}\" fill=\"#9fa0ae\" font-size=\"10\">{t0:HH:mm:ss}</text>"));
        svg.Append(FormattableString.Invariant($"<text x=\"{left + plotW}\" y=\"{height - 4}\" fill=\"#9fa0ae\" font-size=\"10\" text-anchor=\"end\">{t1:HH:mm:ss}</text>"));
        for (var i = 0; i < panel.Series.Count; i++)
        {
            var path = string.Join(" ", panel.Series[i].Points.Select(p => FormattableString.Invariant($"{X(p.At):0.#},{Y(p.Value):0.#}")));
            var color = Palette[i % Palette.Length];
            svg.Append(panel.Series[i].Points.Count == 1
                ? FormattableString.Invariant($"<circle cx=\"{X(panel.Series[i].Points[0].At):0.#}\" cy=\"{Y(panel.Series[i].Points[0].Value):0.#}\" r=\"2.5\" fill=\"{color}\"/>")
                : $"<polyline points=\"{path}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\"/>");
        }
        return svg.Append("</svg>").ToString();
    }

    private static double NiceCeiling(double max)
    {
        if (max <= 0) return 1;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(max)));
        return new[] { 1, 2, 2.5, 5, 10 }.Select(f => f * magnitude).First(c => c >= max);
    }

    private static string Format(double v, string? unit) => unit switch
    {
        "s" when v is > 0 and < 1 => FormattableString.Invariant($"{v * 1000:0.#} ms"),
        "s" => FormattableString.Invariant($"{v:0.##} s"),
        "ops" => FormattableString.Invariant($"{v:0.##}/s"),
        _ => v.ToString("0.##", CultureInfo.InvariantCulture),
    };

    private abstract record Node
    {
        public abstract List<(IReadOnlyDictionary<string, string> Labels, double Value)> Eval(IReadOnlyList<Scrape> history, int i);
    }

    private static string Key(IReadOnlyDictionary<string, string> labels) => string.Join(",", labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}"));

    private sealed record Selector(string Name) : Node
    {
        public override List<(IReadOnlyDictionary<string, string>, double)> Eval(IReadOnlyList<Scrape> history, int i) =>
            history[i].Samples.Where(s => s.Name == Name).Select(s => (s.Labels, s.Value)).ToList();
    }

    /// <summary><c>rate</c> or <c>increase</c>: from the earliest scrape inside the range that has the series to this one; a counter reset counts from zero.</summary>
    private sealed record RangeFunction(string Function, string Name, TimeSpan Range) : Node
    {
        public override List<(IReadOnlyDictionary<string, string>, double)> Eval(IReadOnlyList<Scrape> history, int i)
        {
            var result = new List<(IReadOnlyDictionary<string, string>, double)>();
            foreach (var now in history[i].Samples.Where(s => s.Name == Name))
            {
                var key = Key(now.Labels);
                for (var j = 0; j < i; j++)
                {
                    if (history[j].At < history[i].At - Range) continue;
                    if (history[j].Samples.FirstOrDefault(s => s.Name == Name && Key(s.Labels) == key) is not { } then) continue;
                    var delta = now.Value >= then.Value ? now.Value - then.Value : now.Value;
                    var labels = now.Labels.Where(l => l.Key != "__name__").ToDictionary();
                    result.Add((labels, Function == "rate" ? delta / (history[i].At - history[j].At).TotalSeconds : delta));
                    break;
                }
            }
            return result;
        }
    }

    private sealed record Aggregate(string Operator, string[] By, Node Inner) : Node
    {
        public override List<(IReadOnlyDictionary<string, string>, double)> Eval(IReadOnlyList<Scrape> history, int i) =>
            Inner.Eval(history, i)
                .GroupBy(s => Key(s.Labels.Where(l => By.Contains(l.Key)).ToDictionary()))
                .Select(g => ((IReadOnlyDictionary<string, string>)g.First().Labels.Where(l => By.Contains(l.Key)).ToDictionary(),
                    Operator == "sum" ? g.Sum(s => s.Value) : g.Max(s => s.Value)))
                .ToList();
    }

    /// <summary>Prometheus's <c>histogram_quantile</c>: linear inside the bucket the rank falls in.</summary>
    private sealed record Quantile(double Q, Node Inner) : Node
    {
        public override List<(IReadOnlyDictionary<string, string>, double)> Eval(IReadOnlyList<Scrape> history, int i)
        {
            var result = new List<(IReadOnlyDictionary<string, string>, double)>();
            foreach (var g in Inner.Eval(history, i).GroupBy(s => Key(s.Labels.Where(l => l.Key != "le").ToDictionary())))
            {
                var buckets = g.Select(s => (Le: s.Labels["le"] == "+Inf" ? double.PositiveInfinity : double.Parse(s.Labels["le"], CultureInfo.InvariantCulture), s.Value))
                    .OrderBy(b => b.Le).ToList();
                var total = buckets[^1].Value;
                var labels = g.First().Labels.Where(l => l.Key != "le").ToDictionary();
                if (total <= 0)
                {
                    result.Add((labels, double.NaN));
                    continue;
                }
                var rank = Q * total;
                var k = buckets.FindIndex(b => b.Value >= rank);
                var (lower, below) = k == 0 ? (0.0, 0.0) : (buckets[k - 1].Le, buckets[k - 1].Value);
                var value = double.IsPositiveInfinity(buckets[k].Le)
                    ? lower
                    : lower + (buckets[k].Le - lower) * (buckets[k].Value - below == 0 ? 1 : (rank - below) / (buckets[k].Value - below));
                result.Add((labels, value));
            }
            return result;
        }
    }

    private sealed class Parser(string text)
    {
        private int _pos;

        public Node Parse()
        {
            var node = Expression();
            Space();
            return _pos == text.Length ? node : throw Unsupported();
        }

        private Node Expression()
        {
            var name = Identifier();
            Space();
            switch (name)
            {
                case "sum" or "max":
                    var by = Array.Empty<string>();
                    if (text.AsSpan(_pos).StartsWith("by"))
                    {
                        Identifier();
                        Expect('(');
                        by = ReadUntil(')').Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                    }
                    Expect('(');
                    var inner = Expression();
                    Expect(')');
                    return new Aggregate(name, by, inner);
                case "histogram_quantile":
                    Expect('(');
                    var q = double.Parse(ReadUntil(','), CultureInfo.InvariantCulture);
                    var of = Expression();
                    Expect(')');
                    return new Quantile(q, of);
                case "rate" or "increase":
                    Expect('(');
                    var metric = Identifier();
                    Expect('[');
                    var range = ReadUntil(']');
                    Expect(')');
                    return new RangeFunction(name, metric, Duration(range));
                default:
                    return text.AsSpan(_pos).TrimStart().StartsWith("(") || text.AsSpan(_pos).TrimStart().StartsWith("{") ? throw Unsupported() : new Selector(name);
            }
        }

        private static TimeSpan Duration(string range) => range[^1] switch
        {
            's' => TimeSpan.FromSeconds(int.Parse(range[..^1], CultureInfo.InvariantCulture)),
            'm' => TimeSpan.FromMinutes(int.Parse(range[..^1], CultureInfo.InvariantCulture)),
            'h' => TimeSpan.FromHours(int.Parse(range[..^1], CultureInfo.InvariantCulture)),
            _ => throw new NotSupportedException($"range [{range}]"),
        };

        private string Identifier()
        {
            Space();
            var start = _pos;
            while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] is '_' or ':')) _pos++;
            return _pos > start ? text[start.._pos] : throw Unsupported();
        }

        private string ReadUntil(char end)
        {
            var stop = text.IndexOf(end, _pos);
            if (stop < 0) throw Unsupported();
            var value = text[_pos..stop].Trim();
            _pos = stop + 1;
            return value;
        }

        private void Expect(char c)
        {
            Space();
            if (_pos >= text.Length || text[_pos] != c) throw Unsupported();
            _pos++;
        }

        private void Space()
        {
            while (_pos < text.Length && text[_pos] == ' ') _pos++;
        }

        private NotSupportedException Unsupported() => new($"the preview does not evaluate '{text}' (at {_pos}); extend it or keep the dashboard to what it understands");
    }
}
