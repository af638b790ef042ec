using Metering.Accounts.Persistence;
using System.Text.Json;

namespace Metering.Projections;

/// <summary>One row of <see cref="UsageProjection.Table"/>; empty strings mean "none".</summary>
public sealed record UsageRow(DateOnly Day, string Meter, string Team, string User, string SubscriptionId, string PlanId, decimal Quantity, decimal Amount);

/// <summary>Queries over the usage rows; sums are made by the caller in decimal (see <see cref="ReadStore.DecimalType"/>).</summary>
public sealed class UsageReadModel(ReadStore store)
{
    /// <summary>Rows of days <paramref name="from"/> (inclusive) to <paramref name="to"/> (exclusive), of one meter or all.</summary>
    public async Task<IReadOnlyList<UsageRow>> RowsAsync(string accountId, DateOnly from, DateOnly to, string? meter, CancellationToken ct)
    {
        await using var connection = await store.OpenAsync(ct);
        await using var command = JournalDatabase.Command(connection, null,
            "SELECT day, meter, team, user_id, subscription_id, plan_id, quantity, amount FROM " + UsageProjection.Table +
            " WHERE account_id = @a AND day >= @from AND day < @to AND (@meter = '' OR meter = @meter)",
            ("@a", accountId), ("@from", Day(from)), ("@to", Day(to)), ("@meter", meter ?? ""));
        await using var reader = await command.ExecuteReaderAsync(ct);
        var rows = new List<UsageRow>();
        while (await reader.ReadAsync(ct))
            rows.Add(new UsageRow(DateOnly.ParseExact(reader.GetString(0), "yyyy-MM-dd"), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                reader.GetString(4), reader.GetString(5), reader.GetDecimal(6), reader.GetDecimal(7)));
        return rows;
    }

    /// <summary>The first day the account has usage on, or null.</summary>
    public async Task<DateOnly?> FirstDayAsync(string accountId, CancellationToken ct)
    {
        await using var connection = await store.OpenAsync(ct);
        await using var command = JournalDatabase.Command(connection, null, $"SELECT MIN(day) FROM {UsageProjection.Table} WHERE account_id = @a", ("@a", accountId));
        return await command.ExecuteScalarAsync(ct) is string day ? DateOnly.ParseExact(day, "yyyy-MM-dd") : null;
    }

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>A page of a list, newest first, and how many items match in all.</summary>
public sealed record ItemsPage<T>(IReadOnlyList<T> Items, int Total);

/// <summary>Pages of the billing lists, newest first by their place in the account's list (stable while items are added).</summary>
public sealed class BillingListsReadModel(ReadStore store)
{
    /// <param name="kind">One of <see cref="BillingListsProjection.Kinds"/>.</param>
    /// <param name="from">Items at or after (issue date, notification or ledger time, subscription start).</param>
    /// <param name="to">Items before.</param>
    public async Task<ItemsPage<T>> PageAsync<T>(string accountId, string kind, DateTimeOffset? from, DateTimeOffset? to, int page, int pageSize, CancellationToken ct)
    {
        (string, object?)[] filter = [("@a", accountId), ("@k", kind), ("@from", from?.UtcTicks ?? long.MinValue), ("@to", to?.UtcTicks ?? long.MaxValue)];
        const string where = "WHERE account_id = @a AND kind = @k AND at >= @from AND at < @to";
        await using var connection = await store.OpenAsync(ct);
        int total;
        await using (var count = JournalDatabase.Command(connection, null, $"SELECT COUNT(*) FROM {BillingListsProjection.Table} {where}", filter))
            total = Convert.ToInt32(await count.ExecuteScalarAsync(ct));

        await using var select = JournalDatabase.Command(connection, null,
            $"SELECT body FROM {BillingListsProjection.Table} {where} ORDER BY seq DESC LIMIT @limit OFFSET @skip",
            [.. filter, ("@limit", pageSize), ("@skip", (long)(page - 1) * pageSize)]);
        await using var reader = await select.ExecuteReaderAsync(ct);
        var items = new List<T>();
        while (await reader.ReadAsync(ct))
            items.Add(JsonSerializer.Deserialize<T>(reader.GetString(0), ReadStore.Json)!);
        return new ItemsPage<T>(items, total);
    }
}
