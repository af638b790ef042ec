using System.Text.Json;
using Akka.Persistence.Query;
using Metering.Accounts;
using Metering.Accounts.Persistence;
using Metering.Domain.Accounts;

namespace Metering.Projections;

/// <summary>Reads one account's events back from the journal, in sequence order.</summary>
public delegate Task<IReadOnlyList<IAccountEvent>> JournalReplay(string persistenceId, long fromSequenceNr, long toSequenceNr, CancellationToken ct);

/// <summary>
/// The lists of the billing page (invoices, subscriptions with their periods, notifications, ledger)
/// as rows, so listing them never wakes an account actor. What those lists hold (an invoice's paid
/// and due amounts, a ledger entry's balance after, which notifications a change raised) is worked
/// out by the domain when an event is applied, so this projection folds each account's events with
/// the same <see cref="Account.Apply"/> the actor runs (no second copy of the money rules) and
/// writes the items an event batch added or changed. The fold of recently seen accounts is kept in
/// memory; any other account is folded again from its journal up to the event at hand.
/// </summary>
public sealed class BillingListsProjection(AccountSettings settings, JournalReplay replay, int cachedAccounts) : IProjection
{
    /// <summary>Folds only apply events, never decide, so they need no memory of events seen: no dedupe window.</summary>
    private readonly AccountSettings _foldSettings = settings with { DedupeWindow = TimeSpan.Zero };

    public const string ProjectionName = "billing";
    /// <summary>The journal rows it projects, as SQL over the journal table: every account event.</summary>
    public const string JournalRows = "persistence_id LIKE 'account-%'";
    public const string Table = "billing_items";

    public static class Kinds
    {
        public const string Invoice = "invoice";
        public const string Subscription = "subscription";
        public const string Notification = "notification";
        public const string Ledger = "ledger";
    }

    private readonly Dictionary<string, LinkedListNode<Fold>> _folds = new(StringComparer.Ordinal);
    private readonly LinkedList<Fold> _recent = new();

    public string Name => ProjectionName;
    public IEnumerable<string> Tables => [Table];

    /// <summary>
    /// <c>seq</c> is the item's place in the account's list (oldest 1): items never move, so it keys
    /// the row and is the stable order of every page. <c>at</c> (UTC ticks) is what date filters use.
    /// </summary>
    /// <summary>DDL, idempotent.</summary>
    public static IEnumerable<string> Schema(ReadStore store) =>
    [
        $"""
        CREATE TABLE IF NOT EXISTS {Table} (
            account_id TEXT NOT NULL, kind TEXT NOT NULL, seq BIGINT NOT NULL, id TEXT NOT NULL, at BIGINT NOT NULL, body TEXT NOT NULL,
            PRIMARY KEY (account_id, kind, seq))
        """,
    ];

    public void Forget()
    {
        _folds.Clear();
        _recent.Clear();
    }

    private sealed class Fold(string persistenceId, Account account)
    {
        public string PersistenceId { get; } = persistenceId;
        public Account Account { get; } = account;
        public long SequenceNr { get; set; }
        /// <summary>What each subscription's row holds: subscriptions change in place, so they are compared by content.</summary>
        public Dictionary<string, string> Subscriptions { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>An account's lists before a batch: items are immutable records, so a replaced reference is a changed item.</summary>
    private sealed record Before(Invoice[] Invoices, Notification[] Notifications, int LedgerCount);

    private sealed record Item(string AccountId, string Kind, long Seq, string Id, DateTimeOffset At, string Body);

    public async Task<ProjectionWrite> PrepareAsync(IReadOnlyList<EventEnvelope> batch, CancellationToken ct)
    {
        var touched = new Dictionary<Fold, Before>();
        foreach (var envelope in batch)
        {
            if (envelope.Event is not IAccountEvent e) continue;
            var fold = await FoldUpToAsync(envelope.PersistenceId, envelope.SequenceNr - 1, ct);
            if (fold.SequenceNr >= envelope.SequenceNr) continue;
            if (!touched.ContainsKey(fold))
                touched[fold] = new Before([.. fold.Account.Invoices], [.. fold.Account.Notifications], fold.Account.Ledger.Count);
            fold.Account.Apply(e);
            fold.SequenceNr = envelope.SequenceNr;
        }
        var items = touched.SelectMany(t => Changes(t.Key, t.Value)).ToList();
        touched.Clear(); // as the usage projection's deltas: a large table keeps nothing alive once done
        var rows = items.Select(item => new object?[] { item.AccountId, item.Kind, item.Seq, item.Id, item.At.UtcTicks, item.Body }).ToList();
        return (connection, transaction, token) => ReadStore.WriteRowsAsync(connection, transaction,
            $"INSERT INTO {Table} (account_id, kind, seq, id, at, body)",
            "ON CONFLICT (account_id, kind, seq) DO UPDATE SET id = excluded.id, at = excluded.at, body = excluded.body",
            6, rows, token);
    }

    private async Task<Fold> FoldUpToAsync(string persistenceId, long sequenceNr, CancellationToken ct)
    {
        Fold fold;
        if (_folds.TryGetValue(persistenceId, out var node))
        {
            _recent.Remove(node);
            _recent.AddFirst(node);
            fold = node.Value;
        }
        else
        {
            fold = new Fold(persistenceId, new Account(AccountActor.AccountIdOf(persistenceId), _foldSettings));
            _folds[persistenceId] = _recent.AddFirst(fold);
            if (_folds.Count > cachedAccounts)
            {
                _folds.Remove(_recent.Last!.Value.PersistenceId);
                _recent.RemoveLast();
            }
        }
        if (fold.SequenceNr < sequenceNr)
        {
            foreach (var e in await replay(persistenceId, fold.SequenceNr + 1, sequenceNr, ct))
                fold.Account.Apply(e);
            fold.SequenceNr = sequenceNr;
        }
        return fold;
    }

    /// <summary>The items of <paramref name="fold"/>'s lists that are new or changed since <paramref name="before"/>.</summary>
    private static IEnumerable<Item> Changes(Fold fold, Before before)
    {
        var account = fold.Account;
        for (var i = 0; i < account.Invoices.Count; i++)
        {
            var invoice = account.Invoices[i];
            if (i >= before.Invoices.Length || !ReferenceEquals(before.Invoices[i], invoice))
                yield return new Item(account.Id, Kinds.Invoice, i + 1, invoice.Id, invoice.IssuedAt, JsonSerializer.Serialize(invoice, ReadStore.Json));
        }
        for (var i = 0; i < account.Notifications.Count; i++)
        {
            var notification = account.Notifications[i];
            if (i >= before.Notifications.Length || !ReferenceEquals(before.Notifications[i], notification))
                yield return new Item(account.Id, Kinds.Notification, i + 1, notification.Id, notification.At, JsonSerializer.Serialize(notification, ReadStore.Json));
        }
        for (var i = before.LedgerCount; i < account.Ledger.Count; i++)
        {
            var entry = account.Ledger[i];
            yield return new Item(account.Id, Kinds.Ledger, i + 1, entry.Id, entry.At, JsonSerializer.Serialize(entry, ReadStore.Json));
        }
        for (var i = 0; i < account.Subscriptions.Count; i++)
        {
            var subscription = account.Subscriptions[i];
            var body = JsonSerializer.Serialize(subscription.ToSnapshot(), ReadStore.Json);
            if (fold.Subscriptions.TryGetValue(subscription.Id, out var written) && written == body) continue;
            fold.Subscriptions[subscription.Id] = body;
            yield return new Item(account.Id, Kinds.Subscription, i + 1, subscription.Id, subscription.StartedAt, body);
        }
    }
}
