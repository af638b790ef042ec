namespace Metering.Projections;

/// <summary><c>Metering:Projections:*</c>.</summary>
public sealed class ProjectionsOptions
{
    /// <summary>
    /// Most events committed in one transaction. 2,000 rather than 500: on PostgreSQL the read side
    /// then caught up 6.0 s after the last of 1,000,000 events instead of 10.7 s (10,000 accounts),
    /// on SQLite no change beyond noise; a batch only fills while a projection is behind.
    /// </summary>
    public int BatchSize { get; set; } = 2_000;

    /// <summary>
    /// How long a batch waits to fill once it has its first event; on SQLite, how long the feed waits
    /// before reading the journal again after a batch that was not full (<c>JournalFeed</c>).
    /// </summary>
    public TimeSpan BatchWait { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Accounts whose fold the billing lists keep in memory; others are folded again from the journal
    /// when their next event comes. Above the number of active accounts, or every event of an
    /// account that fell out replays its whole journal (with 10,000 active accounts and 1,000 kept,
    /// nearly every event did). A fold holds no dedupe memory, a few KB per account.
    /// </summary>
    public int CachedAccounts { get; set; } = 20_000;

    /// <summary>
    /// Usage rows (account, day, meter, team, user, subscription) whose totals the usage projection
    /// keeps in memory, so it adds a batch without reading them back first. About 200 bytes each;
    /// above the rows a day touches, or the reads come back.
    /// </summary>
    public int CachedUsageRows { get; set; } = UsageProjection.DefaultCachedRows;
}
