using System.Diagnostics;
using System.Diagnostics.Metrics;
using Metering.Accounts.Messages;
using Metering.Domain.Accounts;

namespace Metering.Accounts;

/// <summary>
/// What account actors report: money-moving outcomes counted from the events they persisted (so a
/// replay after passivation or a crash counts nothing twice), and the span of a usage persist.
/// </summary>
public sealed class AccountTelemetry : IDisposable
{
    public const string MeterName = "Metering.Accounts";
    public const string SourceName = "Metering.Accounts";

    private static readonly ActivitySource Source = new(SourceName);

    private readonly Meter _meter;
    private readonly Counter<long> _recharges;
    private readonly Counter<long> _invoices;

    public AccountTelemetry(IMeterFactory factory)
    {
        _meter = factory.Create(MeterName);
        _recharges = _meter.CreateCounter<long>("metering.recharges",
            description: "Auto-recharge card charges by outcome: requested (an attempt), succeeded, failed");
        _invoices = _meter.CreateCounter<long>("metering.invoices.issued", description: "Invoices issued (plan fees, renewals)");
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

    private void Recharge(string outcome) => _recharges.Add(1, new KeyValuePair<string, object?>("outcome", outcome));

    private static bool IsRecharge(Account account, string purchaseId) => account.FindPurchase(purchaseId)?.Kind == PurchaseKind.Recharge;

    public void Dispose() => _meter.Dispose();
}
