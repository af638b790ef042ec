using System.Data.Common;
using System.Globalization;
using System.Runtime.InteropServices;
using Akka.Persistence.Query;
using Metering.Accounts;
using Metering.Accounts.Persistence;
using Metering.Domain.Accounts;

namespace Metering.Projections;

/// <summary>
/// Usage per account, UTC day, meter, team, user and the subscription (and its plan) that covered
/// it, with the amount charged: the rows the usage series are summed from. Read from the
/// <c>usage</c> tag alone: every <see cref="UsageRecorded"/> carries its records and what each
/// plan drew or charged per team and user. Usage no plan covered or priced has an empty
/// subscription and plan.
/// </summary>
/// <remarks>
/// A batch counts on the UTC day the engine recorded it (its <see cref="UsageRecorded.At"/>), the
/// same clock the billing cycle, the quota counters and the charges use, so a day's quantity and
/// amount always belong together and a cycle's series add up to the account's counters.
/// <para>
/// The rows it wrote or read are kept in memory (up to <paramref name="cachedRows"/>), so adding a
/// batch is one upsert per row instead of a read and an upsert: the reads were half of the
/// projection's statements, 5.6 % of a thread-time trace's samples at 10,000 accounts. Only this projection
/// writes the table, and a run starts with a new instance or after <see cref="Forget"/>.
/// </para>
/// </remarks>
public sealed class UsageProjection(int cachedRows = UsageProjection.DefaultCachedRows) : IProjection
{
    public const int DefaultCachedRows = 200_000;

    public const string ProjectionName = "usage";
    /// <summary>The journal rows it projects, as SQL over the journal table: usage batches (every version of their format).</summary>
    public const string JournalRows = "manifest LIKE 'usage-recorded.%'";
    public const string Table = "usage_daily";

    public string Name => ProjectionName;
    public IEnumerable<string> Tables => [Table];

    /// <summary>DDL, idempotent.</summary>
    public static IEnumerable<string> Schema(ReadStore store) =>
    [
        $$"""
        CREATE TABLE IF NOT EXISTS {{Table}} (
            account_id TEXT NOT NULL, day TEXT NOT NULL, meter TEXT NOT NULL, team TEXT NOT NULL, user_id TEXT NOT NULL,
            subscription_id TEXT NOT NULL, plan_id TEXT NOT NULL,
            quantity {{store.DecimalType}} NOT NULL, amount {{store.DecimalType}} NOT NULL,
            PRIMARY KEY (account_id, day, meter, team, user_id, subscription_id)){{store.RowidFree}}
        """,
    ];

    /// <summary>Each row's quantity and amount as this projection last wrote or read them.</summary>
    private readonly Dictionary<Key, (decimal Quantity, decimal Amount)> _rows = [];

    /// <summary>
    /// The first day whose rows are all in <see cref="_rows"/>, the later days' too: a key of such a day
    /// that is not there is not in the table either, so it is not looked for. Null when not known.
    /// Otherwise every key a batch brought for the first time was one query (on SQLite a statement
    /// parsed for it), each of them finding nothing on a new day or a new table.
    /// </summary>
    private string? _completeFrom;

    /// <summary>Whether this run looked at the table's newest day yet.</summary>
    private bool _started;

    /// <summary>Rows this projection knows without reading them (for tests and telemetry).</summary>
    public int CachedRows => _rows.Count;

    public void Forget()
    {
        _rows.Clear();
        (_completeFrom, _started) = (null, false);
    }

    /// <summary>
    /// A row's primary key: one statement writes each row once. Its hash is worked out once: a write
    /// looks each key up four or five times, and hashing six strings each time was a tenth of the
    /// projection's samples (session 16).
    /// </summary>
    private readonly record struct Key(string Account, string Day, string Meter, string Team, string User, string Subscription)
    {
        private readonly int _hash = HashCode.Combine(Account, Day, Meter, Team, User, Subscription);

        public bool Equals(Key other) =>
            _hash == other._hash && Account == other.Account && Day == other.Day && Meter == other.Meter
            && Team == other.Team && User == other.User && Subscription == other.Subscription;

        public override int GetHashCode() => _hash;
    }

    /// <summary>What a batch adds to a row, and the plan of its subscription (empty for uncovered usage).</summary>
    private readonly record struct Delta(decimal Quantity, decimal Amount, string Plan);

    public Task<ProjectionWrite> PrepareAsync(IReadOnlyList<EventEnvelope> batch, CancellationToken ct)
    {
        // Sized for the batch, and one uncovered-usage table and one day's name reused across its events:
        // growing and making them again for every event was 3 % of the bytes the process allocated at
        // 20,000 events/s, about one event per account per batch (docs/benchmarks.md, session 20).
        var deltas = new Dictionary<Key, Delta>(batch.Count);
        var uncovered = new Dictionary<(string Meter, string Team, string User), decimal>();
        var (date, day) = (default(DateTime), "");
        foreach (var envelope in batch)
        {
            if (envelope.Event is not UsageRecorded e) continue;
            if (e.At.UtcDateTime.Date != date || day.Length == 0) (date, day) = (e.At.UtcDateTime.Date, DayOf(e.At));
            Add(deltas, uncovered, AccountActor.AccountIdOf(envelope.PersistenceId), day, e);
        }
        return Task.FromResult<ProjectionWrite>((connection, transaction, token) => WriteAsync(deltas, connection, transaction, token));
    }

    private const string InsertSql = $"INSERT INTO {Table} ({KeyColumns}, plan_id, quantity, amount)";

    private const string OnConflictSql = $"ON CONFLICT ({KeyColumns}) DO UPDATE SET quantity = excluded.quantity, amount = excluded.amount";

    /// <summary>Adds the deltas to the rows; sums in C# decimal (SQLite has no exact decimal arithmetic).</summary>
    private async Task WriteAsync(Dictionary<Key, Delta> deltas, DbConnection connection, DbTransaction transaction, CancellationToken ct)
    {
        if (!_started) await StartAsync(connection, transaction, ct);
        await LoadAsync([.. deltas.Keys.Where(k => !_rows.ContainsKey(k) && !Complete(k.Day))], connection, transaction, ct);
        var rows = new List<object?[]>(deltas.Count);
        foreach (var (key, delta) in deltas)
        {
            // Ahead of the database until the transaction commits; a failed one is followed by Forget.
            // One lookup of the six-string key where reading and then setting the row took two.
            ref var row = ref CollectionsMarshal.GetValueRefOrAddDefault(_rows, key, out _);
            row = (row.Quantity + delta.Quantity, row.Amount + delta.Amount);
            rows.Add([key.Account, key.Day, key.Meter, key.Team, key.User, key.Subscription, delta.Plan, row.Quantity, row.Amount]);
        }
        await ReadStore.WriteRowsAsync(connection, transaction, InsertSql, OnConflictSql, 9, rows, ct);
        Trim(deltas.Keys);
        // Sized for the batch, the table is a large object, collected only with the oldest generation:
        // emptied, it keeps none of the batch's keys alive through the young collections until then.
        deltas.Clear();
    }

    private bool Complete(string day) => _completeFrom is not null && string.CompareOrdinal(day, _completeFrom) >= 0;

    /// <summary>
    /// Reads the rows of the table's newest day, if no more than the cap: usage counts on the day the
    /// engine recorded it, so a run goes on from that day, and its keys need no query of their own.
    /// An empty table (new, or being rebuilt) is complete from any day.
    /// </summary>
    private async Task StartAsync(DbConnection connection, DbTransaction transaction, CancellationToken ct)
    {
        _started = true;
        await using var query = JournalDatabase.Command(connection, transaction,
            $"SELECT {KeyColumns}, quantity, amount FROM {Table} WHERE day = (SELECT MAX(day) FROM {Table}) LIMIT @max", ("@max", cachedRows + 1));
        var newest = new List<(Key Key, decimal Quantity, decimal Amount)>();
        await using (var reader = await query.ExecuteReaderAsync(ct))
            while (await reader.ReadAsync(ct))
                newest.Add((ReadKey(reader), reader.GetDecimal(6), reader.GetDecimal(7)));
        if (newest.Count > cachedRows) return; // the keys are read as batches bring them
        foreach (var (key, quantity, amount) in newest) _rows[key] = (quantity, amount);
        _completeFrom = newest.Count == 0 ? "" : newest[0].Key.Day;
    }

    private static Key ReadKey(DbDataReader reader) =>
        new(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), reader.GetString(5));

    /// <summary>Reads the rows not in memory, <see cref="ReadStore.RowsPerStatement"/> keys per query (one per row was a round trip each on PostgreSQL); a row not there stays out.</summary>
    private Task LoadAsync(IReadOnlyList<Key> keys, DbConnection connection, DbTransaction transaction, CancellationToken ct) =>
        ReadStore.InChunksAsync(connection, transaction, 6,
            [.. keys.Select(k => new object?[] { k.Account, k.Day, k.Meter, k.Team, k.User, k.Subscription })],
            // Key equalities OR-ed: both databases answer each from the primary key.
            names => $"SELECT {KeyColumns}, quantity, amount FROM {Table} WHERE " +
                     string.Join(" OR ", names.Select(n => $"({string.Join(" AND ", KeyColumns.Split(", ").Select((column, c) => $"{column} = {n[c]}"))})")),
            async query =>
            {
                await using var reader = await query.ExecuteReaderAsync(ct);
                while (await reader.ReadAsync(ct))
                    _rows[ReadKey(reader)] = (reader.GetDecimal(6), reader.GetDecimal(7));
            });

    private const string KeyColumns = "account_id, day, meter, team, user_id, subscription_id";

    /// <summary>
    /// Over the cap, the rows of days before the newest go first (usage counts on the day the engine
    /// recorded it, so those rows are done growing), then all.
    /// </summary>
    private void Trim(IEnumerable<Key> written)
    {
        if (_rows.Count <= cachedRows) return;
        var newestDay = written.Max(k => k.Day);
        foreach (var key in _rows.Keys.Where(k => string.CompareOrdinal(k.Day, newestDay) < 0).ToList()) _rows.Remove(key);
        if (_rows.Count > cachedRows)
        {
            _rows.Clear();
            _completeFrom = null;
        }
        else if (_completeFrom is not null && string.CompareOrdinal(newestDay, _completeFrom) > 0) _completeFrom = newestDay; // the days before left memory
    }

    /// <summary>What plans drew or charged goes to their rows; the rest of each team's and user's usage is uncovered.</summary>
    /// <param name="uncovered">Scratch, emptied here.</param>
    /// <param name="day">The event's <see cref="DayOf"/>.</param>
    private static void Add(Dictionary<Key, Delta> deltas, Dictionary<(string Meter, string Team, string User), decimal> uncovered, string account, string day, UsageRecorded e)
    {
        uncovered.Clear();
        for (var i = 0; i < e.Accepted.Count; i++) // indexed: a foreach over an IReadOnlyList boxes its enumerator
        {
            var r = e.Accepted[i];
            var k = (r.Meter, r.Team ?? "", r.User ?? "");
            uncovered[k] = uncovered.GetValueOrDefault(k) + r.Quantity;
        }
        foreach (var d in e.Draws ?? [])
            Covered(d.Meter, d.Team, d.User, d.SubscriptionId, d.PlanId, d.Quantity, 0);
        foreach (var c in e.Charges ?? [])
            Covered(c.Meter, c.Team, c.User, c.SubscriptionId, c.PlanId, c.Quantity, c.Amount);
        foreach (var ((meter, team, user), quantity) in uncovered)
        {
            if (quantity != 0) Put(new Key(account, day, meter, team, user, ""), "", quantity, 0);
        }

        void Covered(string meter, string? team, string? user, string subscription, string? plan, decimal quantity, decimal amount)
        {
            var k = (meter, team ?? "", user ?? "");
            uncovered[k] = uncovered.GetValueOrDefault(k) - quantity;
            Put(new Key(account, day, meter, k.Item2, k.Item3, subscription), plan ?? "", quantity, amount);
        }

        void Put(Key key, string plan, decimal quantity, decimal amount)
        {
            var (q, a, known) = deltas.GetValueOrDefault(key);
            // Events written before draws and charges named their plan carry none: keep one that does.
            deltas[key] = new Delta(q + quantity, a + amount, plan.Length > 0 ? plan : known ?? "");
        }
    }

    public static string DayOf(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
}
