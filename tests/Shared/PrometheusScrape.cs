using System.Globalization;
using System.Text.RegularExpressions;

namespace Metering.Tests.Shared;

/// <summary>One <c>/metrics</c> scrape in the Prometheus text format, parsed into samples.</summary>
/// <remarks>Shared by the host tests (which add <c>FromAsync</c>) and the dashboard preview.</remarks>
public sealed partial class PrometheusScrape
{
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    public IReadOnlyList<Sample> Samples { get; }

    private PrometheusScrape(IReadOnlyList<Sample> samples) => Samples = samples;

    public static PrometheusScrape Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#')) continue;
            var m = SampleLine().Match(line);
            if (!m.Success) throw new FormatException($"not a Prometheus sample: {line}");
            var labels = LabelPair().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups[1].Value, l => l.Groups[2].Value);
            samples.Add(new Sample(m.Groups["name"].Value, labels, double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }
        return new PrometheusScrape(samples);
    }

    /// <summary>Every sample name, histogram series (<c>_bucket</c>, <c>_sum</c>, <c>_count</c>) included.</summary>
    public ISet<string> Names => Samples.Select(s => s.Name).ToHashSet();

    /// <summary>The sum over the series of <paramref name="name"/> whose labels include <paramref name="labels"/>.</summary>
    public double Sum(string name, params (string Key, string Value)[] labels) =>
        Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value)).Sum(s => s.Value);

    public IEnumerable<Sample> Series(string name) => Samples.Where(s => s.Name == name);

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();
}
