using Metering.Domain.Accounts;

namespace Metering.Simulation.Tests.Simulation;

/// <summary>
/// Whole-state equality of two accounts, by their snapshots. Records compare by value except their
/// collections, which compare by reference; so each record is compared with its collections
/// emptied, and the collections item by item. Serializing both states to JSON does the same job
/// about ten times slower, which a run that compares after every crash cannot afford. A collection
/// added to the snapshot and not listed here compares by reference and fails loudly, not silently.
/// </summary>
public static class SnapshotEquality
{
    private static readonly IReadOnlyDictionary<string, decimal> NoQuantities = new Dictionary<string, decimal>();
    private static readonly IReadOnlyDictionary<string, string> NoData = new Dictionary<string, string>();

    public static bool Same(AccountSnapshot a, AccountSnapshot b) =>
        Strip(a) == Strip(b)
        && SameEntries(a.Usage, b.Usage)
        && a.Watermarks.SequenceEqual(b.Watermarks)
        && (a.TakenAbove ?? []).SequenceEqual(b.TakenAbove ?? [])
        && a.Dedupe.SequenceEqual(b.Dedupe)
        && (a.DedupeWindow ?? []).SequenceEqual(b.DedupeWindow ?? [])
        && SameItems(a.Subscriptions, b.Subscriptions, Same)
        && a.PaymentMethods.SequenceEqual(b.PaymentMethods)
        && a.Purchases.SequenceEqual(b.Purchases)
        && a.Ledger.SequenceEqual(b.Ledger)
        && SameItems(a.Invoices, b.Invoices, (x, y) => x with { Lines = [] } == y with { Lines = [] } && x.Lines.SequenceEqual(y.Lines))
        && Same(a.Preferences, b.Preferences)
        && SameItems(a.Notifications, b.Notifications, (x, y) => x with { Data = NoData } == y with { Data = NoData } && SameEntries(x.Data, y.Data));

    private static AccountSnapshot Strip(AccountSnapshot s) => s with
    {
        Usage = NoQuantities, Watermarks = [], TakenAbove = null, Dedupe = [], DedupeWindow = null, Subscriptions = [], PaymentMethods = [], Purchases = [],
        Ledger = [], Invoices = [], Preferences = Preferences.Default, Notifications = [],
    };

    private static bool Same(SubscriptionSnapshot a, SubscriptionSnapshot b) =>
        a with { Used = NoQuantities, Overage = NoQuantities, Charged = NoQuantities, Periods = [] }
            == b with { Used = NoQuantities, Overage = NoQuantities, Charged = NoQuantities, Periods = [] }
        && SameEntries(a.Used, b.Used) && SameEntries(a.Overage, b.Overage) && SameEntries(a.Charged, b.Charged)
        && a.Periods.SequenceEqual(b.Periods);

    private static bool Same(Preferences a, Preferences b) =>
        a with { Notifications = a.Notifications with { Channels = [] } } == b with { Notifications = b.Notifications with { Channels = [] } }
        && a.Notifications.Channels.SequenceEqual(b.Notifications.Channels);

    private static bool SameItems<T>(IReadOnlyList<T> a, IReadOnlyList<T> b, Func<T, T, bool> same)
    {
        if (a.Count != b.Count) return false;
        for (var i = 0; i < a.Count; i++)
            if (!same(a[i], b[i])) return false;
        return true;
    }

    /// <summary>Same keys and values in the same order: replay must rebuild dictionaries exactly as they grew.</summary>
    private static bool SameEntries<TValue>(IReadOnlyDictionary<string, TValue> a, IReadOnlyDictionary<string, TValue> b) =>
        a.Count == b.Count && a.SequenceEqual(b);
}
