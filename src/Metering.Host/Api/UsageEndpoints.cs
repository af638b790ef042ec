using System.Globalization;
using Metering.Accounts.Messages;
using Metering.Domain.Meters;
using Metering.Projections;

namespace Metering.Host.Api;

/// <summary>
/// <c>GET /api/v1/accounts/{id}/usage</c>: usage and charges over time from the usage projection
/// (eventually consistent, its lag in the answer), with the current quotas from the account's actor
/// (strongly consistent).
/// </summary>
public static class UsageEndpoints
{
    /// <summary>Longest range per granularity: about three years of days, ten years of weeks or months.</summary>
    private static readonly Dictionary<string, int> MaxBuckets = new() { ["day"] = 1_096, ["week"] = 522, ["month"] = 120 };
    private static readonly string[] GroupBys = ["team", "user", "plan"];
    private const string None = "none";

    public sealed record PointView(DateTimeOffset Start, DateTimeOffset End, decimal Quantity, decimal Amount);
    public sealed record SeriesView(string Meter, string? Group, IReadOnlyList<PointView> Points);
    public sealed record TotalView(decimal Quantity, decimal Amount);
    public sealed record WindowView(DateTimeOffset From, DateTimeOffset To, IReadOnlyDictionary<string, TotalView> Totals, IReadOnlyDictionary<string, decimal?> Change);
    public sealed record TrendView(WindowView Previous, WindowView? YearAgo);
    public sealed record QuotaUseView(string SubscriptionId, string PlanId, string Name, string Meter, decimal Included, decimal Used, decimal Remaining);
    public sealed record UsageView(
        string AccountId, string Currency, DateTimeOffset From, DateTimeOffset To, string Granularity, string? Meter, string? GroupBy,
        IReadOnlyList<SeriesView> Series, IReadOnlyDictionary<string, TotalView> Totals, TrendView Trend, IReadOnlyList<QuotaUseView> Quotas,
        DateTimeOffset AsOf, long LagMilliseconds);

    public static RouteGroupBuilder MapUsageEndpoints(this RouteGroupBuilder api)
    {
        api.MapGet("/accounts/{accountId}/usage", GetUsage)
            .Produces<UsageView>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .WithName("GetUsageSeries")
            .WithSummary("Usage and charges per day, ISO week or month, by meter and optionally by team, user or plan");
        return api;
    }

    private static async Task<IResult> GetUsage(
        string accountId, AccountApi api, MeterCatalog meters, UsageReadModel usage, ProjectionTelemetry projections, TimeProvider time, CancellationToken ct,
        string? from = null, string? to = null, string? granularity = null, string? meter = null, string? groupBy = null)
    {
        granularity ??= "day";
        if (!MaxBuckets.ContainsKey(granularity))
            return Invalid("granularity", $"granularity is day, week or month, not '{granularity}'.");
        if (groupBy is not null && !GroupBys.Contains(groupBy))
            return Invalid("groupBy", $"groupBy is team, user or plan, not '{groupBy}'.");
        if (meter is not null && meters.Meters.All(m => m.Key != meter))
            return Invalid("meter", $"No meter '{meter}'; meters are {string.Join(", ", meters.Meters.Select(m => m.Key))}.");
        if (!TryTime(to, out var end)) return Invalid("to", "to is an ISO-8601 time, e.g. 2026-11-27T00:00:00Z.");
        if (!TryTime(from, out var start)) return Invalid("from", "from is an ISO-8601 time, e.g. 2026-10-28T00:00:00Z.");
        var until = end ?? time.GetUtcNow();
        var since = start ?? until.AddDays(-30);
        if (since > until) return Invalid("from", "from is after to.");
        var buckets = Buckets(since, until, granularity);
        if (buckets.Count > MaxBuckets[granularity])
            return Invalid("from", $"At most {MaxBuckets[granularity]} {granularity}s per request; narrow from and to or use a coarser granularity.");

        string[] scope = meter is null ? meters.Meters.Select(m => m.Key).ToArray() : [meter];
        var rows = await RowsAsync(usage, accountId, buckets, meter, ct);
        var series = Series(rows, buckets, scope, groupBy);
        var totals = Totals(rows, scope);

        var previousFrom = since - (until - since);
        var previous = await WindowAsync(usage, accountId, previousFrom, since, granularity, meter, scope, totals, ct);
        var firstDay = await usage.FirstDayAsync(accountId, ct);
        var yearAgoBuckets = Buckets(since.AddYears(-1), until.AddYears(-1), granularity);
        var yearAgo = firstDay is { } first && yearAgoBuckets.Count > 0 && first.ToDateTime(TimeOnly.MinValue) < yearAgoBuckets[^1].End.UtcDateTime
            ? await WindowAsync(usage, accountId, since.AddYears(-1), until.AddYears(-1), granularity, meter, scope, totals, ct)
            : null;

        var overview = await api.AskAsync<AccountOverview>(new GetAccountOverview(accountId), ct);
        var quotas = overview.ActivePlans
            .SelectMany(s => s.Plan.Quotas.Where(q => meter is null || q.Key == meter).Select(q =>
            {
                var used = s.Used.GetValueOrDefault(q.Key);
                return new QuotaUseView(s.Id, s.Plan.Id, s.Plan.Name, q.Key, q.Value, used, Math.Max(0, q.Value - used));
            }))
            .ToArray();

        var lag = projections.Lag(UsageProjection.ProjectionName);
        return Results.Ok(new UsageView(accountId, overview.Currency, since, until, granularity, meter, groupBy, series, totals,
            new TrendView(previous, yearAgo), quotas, time.GetUtcNow() - lag, (long)lag.TotalMilliseconds));
    }

    private static IResult Invalid(string parameter, string detail) =>
        Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: $"Invalid {parameter}", detail: detail,
            extensions: new Dictionary<string, object?> { ["code"] = "invalid_parameter", ["parameter"] = parameter });

    private static bool TryTime(string? value, out DateTimeOffset? time)
    {
        time = null;
        if (value is null) return true;
        if (!DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)) return false;
        time = parsed.ToUniversalTime();
        return true;
    }

    /// <summary>Every bucket from the one holding <paramref name="from"/> to the last one starting before <paramref name="to"/>.</summary>
    private static List<(DateTimeOffset Start, DateTimeOffset End)> Buckets(DateTimeOffset from, DateTimeOffset to, string granularity)
    {
        var buckets = new List<(DateTimeOffset, DateTimeOffset)>();
        var limit = MaxBuckets[granularity];
        for (var start = Floor(from, granularity); start < to && buckets.Count <= limit; start = Next(start, granularity))
            buckets.Add((start, Next(start, granularity)));
        return buckets;
    }

    private static DateTimeOffset Floor(DateTimeOffset at, string granularity)
    {
        var day = new DateTimeOffset(at.UtcDateTime.Date, TimeSpan.Zero);
        return granularity switch
        {
            "week" => day.AddDays(-(((int)day.DayOfWeek + 6) % 7)), // ISO weeks start on Monday
            "month" => new DateTimeOffset(day.Year, day.Month, 1, 0, 0, 0, TimeSpan.Zero),
            _ => day,
        };
    }

    private static DateTimeOffset Next(DateTimeOffset start, string granularity) => granularity switch
    {
        "week" => start.AddDays(7),
        "month" => start.AddMonths(1),
        _ => start.AddDays(1),
    };

    private static async Task<IReadOnlyList<UsageRow>> RowsAsync(UsageReadModel usage, string accountId, List<(DateTimeOffset Start, DateTimeOffset End)> buckets, string? meter, CancellationToken ct) =>
        buckets.Count == 0
            ? []
            : await usage.RowsAsync(accountId, DateOnly.FromDateTime(buckets[0].Start.UtcDateTime), DateOnly.FromDateTime(buckets[^1].End.UtcDateTime), meter, ct);

    private static List<SeriesView> Series(IReadOnlyList<UsageRow> rows, List<(DateTimeOffset Start, DateTimeOffset End)> buckets, string[] scope, string? groupBy)
    {
        var starts = buckets.Select(b => b.Start).ToArray();
        var sums = new Dictionary<(string Meter, string? Group), (decimal Quantity, decimal Amount)[]>();
        if (groupBy is null)
            foreach (var m in scope) sums[(m, null)] = new (decimal, decimal)[buckets.Count];
        foreach (var row in rows)
        {
            var key = (row.Meter, GroupOf(row, groupBy));
            if (!sums.TryGetValue(key, out var points)) sums[key] = points = new (decimal, decimal)[buckets.Count];
            // The last bucket starting at or before the row's day holds it.
            var i = Array.BinarySearch(starts, new DateTimeOffset(row.Day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero));
            if (i < 0) i = ~i - 1;
            points[i] = (points[i].Quantity + row.Quantity, points[i].Amount + row.Amount);
        }
        return sums
            .OrderBy(s => Array.IndexOf(scope, s.Key.Meter)).ThenBy(s => s.Key.Group, StringComparer.Ordinal)
            .Select(s => new SeriesView(s.Key.Meter, s.Key.Group,
                buckets.Select((b, i) => new PointView(b.Start, b.End, s.Value[i].Quantity, s.Value[i].Amount)).ToArray()))
            .ToList();
    }

    private static string? GroupOf(UsageRow row, string? groupBy)
    {
        var value = groupBy switch
        {
            "team" => row.Team,
            "user" => row.User,
            "plan" => row.PlanId,
            _ => null,
        };
        return value is null ? null : value.Length == 0 ? None : value;
    }

    private static Dictionary<string, TotalView> Totals(IReadOnlyList<UsageRow> rows, string[] scope) =>
        scope.ToDictionary(m => m, m =>
        {
            var of = rows.Where(r => r.Meter == m).ToList();
            return new TotalView(of.Sum(r => r.Quantity), of.Sum(r => r.Amount));
        });

    /// <summary>An earlier window's totals and the current window's change against them, relative to them.</summary>
    private static async Task<WindowView> WindowAsync(UsageReadModel usage, string accountId, DateTimeOffset from, DateTimeOffset to, string granularity,
        string? meter, string[] scope, Dictionary<string, TotalView> current, CancellationToken ct)
    {
        var totals = Totals(await RowsAsync(usage, accountId, Buckets(from, to, granularity), meter, ct), scope);
        var change = scope.ToDictionary(m => m, m => totals[m].Quantity == 0
            ? (decimal?)null
            : Math.Round((current[m].Quantity - totals[m].Quantity) / totals[m].Quantity, 4, MidpointRounding.ToEven));
        return new WindowView(from, to, totals, change);
    }
}
