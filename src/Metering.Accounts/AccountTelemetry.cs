using System.Diagnostics;
using System.Diagnostics.Metrics;
using Metering.Accounts.Messages;
using Metering.Domain.Accounts;

namespace Metering.Accounts;

/// <summary>
/// What account actors report: money-moving outcomes counted from the events they persisted (so a
/// replay after passivation or a crash counts nothing twice), their life in memory (recoveries and
/// how long they took, stops), notifications handed to a channel, and the span of a usage persist.
/// </summary>
public sealed class AccountTelemetry : IDisposable
{
    public const string MeterName = "Metering.Accounts";
    public const string SourceName = "Metering.Accounts";
    /// <summary>The recovery histogram's name, which the benchmark also listens to.</summary>
    public const string RecoveryInstrument = "metering.accounts.recovery.duration";

    private static readonly ActivitySource Source = new(SourceName);

    private readonly Meter _meter;
    private readonly Counter<long> _recharges;
    private readonly Counter<long> _invoices;
    private readonly Histogram<double> _recovery;
    private readonly Counter<long> _passivated;
    private readonly Counter<long> _notificationsDelivered;
    private readonly Counter<long> _notificationsFailed;

    public AccountTelemetry(IMeterFactory factory)
    {
        _meter = factory.Create(MeterName);
        _recharges = _meter.CreateCounter<long>("metering.recharges",
            description: "Auto-recharge card charges by outcome: requested (an attempt), succeeded, failed");
        _invoices = _meter.CreateCounter<long>("metering.invoices.issued", description: "Invoices issued (plan fees, renewals)");
        _recovery = _meter.CreateHistogram(RecoveryInstrument, unit: "s",
            description: "From an account actor's start to its state rebuilt from the latest snapshot and the journal; the count is the recoveries",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _passivated = _meter.CreateCounter<long>("metering.accounts.passivations",
            description: "Account actors that left memory: idle past Metering:Accounts:PassivateAfter, or handed off when their shard moved or the node stopped");
        _notificationsDelivered = _meter.CreateCounter<long>("metering.notifications.delivered",
            description: "Notifications a channel took (kafka: the broker acknowledged; webhook: a 2xx answer), by channel and type");
        _notificationsFailed = _meter.CreateCounter<long>("metering.notifications.failed",
            description: "Notifications a channel did not take (kafka: produce failed, retried later; webhook: given up after retries), by channel and type");
    }

    /// <summary>Counts what <paramref name="e"/>, just persisted and applied to <paramref name="account"/>, means for an SRE.</summary>
    public void Persisted(Account account, IAccountEvent e)
    {
        switch (e)
        {
            case PaymentRequested { Kind: PurchaseKind.Recharge }:
                Recharge("requested");
                break;
            case PaymentSucceeded s when IsRecharge(account, s.PurchaseId):
                Recharge("succeeded");
                break;
            case PaymentFailed f when IsRecharge(account, f.PurchaseId):
                Recharge("failed");
                break;
            case InvoiceIssued:
                _invoices.Add(1);
                break;
        }
    }

    /// <summary>
    /// Starts the span of one usage persist, child of the sender's span. It is not left as the current
    /// activity: the actor's thread goes on with other messages while the journal writes.
    /// </summary>
    public static Activity? StartPersist(RecordAccountUsage m)
    {
        if (!Source.HasListeners()) return null;
        var previous = Activity.Current;
        var activity = ActivityContext.TryParse(m.TraceParent, null, isRemote: true, out var parent)
            ? Source.StartActivity("persist usage", ActivityKind.Internal, parent)
            : Source.StartActivity("persist usage");
        activity?.SetTag("metering.account_id", m.AccountId);
        activity?.SetTag("metering.records", m.Records.Count);
        Activity.Current = previous;
        return activity;
    }

    /// <summary>An account actor finished recovery, <paramref name="took"/> after it started.</summary>
    public void Recovered(TimeSpan took) => _recovery.Record(took.TotalSeconds);

    /// <summary>An account actor stopped (passivation or hand-off; sharding tells the two apart to nobody).</summary>
    public void Passivated() => _passivated.Add(1);

    public void NotificationDelivered(string channel, string type) => _notificationsDelivered.Add(1, Channel(channel), Type(type));

    public void NotificationFailed(string channel, string type) => _notificationsFailed.Add(1, Channel(channel), Type(type));

    private static KeyValuePair<string, object?> Channel(string channel) => new("channel", channel);

    private static KeyValuePair<string, object?> Type(string type) => new("type", type);

    private void Recharge(string outcome) => _recharges.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    private static bool IsRecharge(Account account, string purchaseId) => account.FindPurchase(purchaseId)?.Kind == PurchaseKind.Recharge;

    public void Dispose() => _meter.Dispose();
}
