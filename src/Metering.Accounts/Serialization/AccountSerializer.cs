using Akka.Actor;
using Metering.Accounts.Messages;
using Metering.Accounts.Scheduling;
using Metering.Domain.Accounts;

namespace Metering.Accounts.Serialization;

/// <summary>Journal, snapshot and cluster format of everything accounts persist or send.</summary>
public sealed class AccountSerializer(ExtendedActorSystem system) : VersionedJsonSerializer(system, TypesByManifest)
{
    public const int Id = 7_341;

    private static readonly Dictionary<string, Type> TypesByManifest = new()
    {
        // Read only: journals written before v2 replay through it; UsageRecorded is written as v3 (UsageRecordedFormat).
        ["usage-recorded.v1"] = typeof(UsageRecorded),
        // v1 kept the dedupe window as (source, id) strings; read only.
        ["account-snapshot.v1"] = typeof(AccountSnapshot),
        ["account-snapshot.v2"] = typeof(AccountSnapshot),
        ["record-usage.v1"] = typeof(RecordAccountUsage),
        ["usage-accepted.v1"] = typeof(UsageAccepted),
        ["usage-applied.v1"] = typeof(UsageApplied),
        ["write-usage-now.v1"] = typeof(WriteUsageNow),
        ["get-overview.v1"] = typeof(GetAccountOverview),
        ["overview.v1"] = typeof(AccountOverview),
        ["subscribed.v1"] = typeof(Subscribed),
        ["subscription-renewed.v1"] = typeof(SubscriptionRenewed),
        ["subscription-ended.v1"] = typeof(SubscriptionEnded),
        ["invoice-issued.v1"] = typeof(InvoiceIssued),
        ["preferences-updated.v1"] = typeof(PreferencesUpdated),
        ["clock-advanced.v1"] = typeof(ClockAdvanced),
        ["notification-delivered.v1"] = typeof(NotificationDelivered),
        ["wake.v1"] = typeof(WakeAccount),
        ["schedule-account.v1"] = typeof(ScheduleAccount),
        ["account-scheduled.v1"] = typeof(AccountScheduled),
        ["account-schedule-snapshot.v1"] = typeof(AccountScheduleSnapshot),
        ["update-preferences.v1"] = typeof(UpdateAccountPreferences),
        ["get-invoices.v1"] = typeof(GetAccountInvoices),
        ["invoices.v1"] = typeof(AccountInvoices),
        ["get-preferences.v1"] = typeof(GetAccountPreferences),
        ["preferences.v1"] = typeof(AccountPreferences),
        ["subscription-canceled.v1"] = typeof(SubscriptionCanceled),
        ["payment-method-added.v1"] = typeof(PaymentMethodAdded),
        ["payment-method-removed.v1"] = typeof(PaymentMethodRemoved),
        ["default-payment-method-set.v1"] = typeof(DefaultPaymentMethodSet),
        ["auto-recharge-configured.v1"] = typeof(AutoRechargeConfigured),
        ["auto-recharge-suspended.v1"] = typeof(AutoRechargeSuspended),
        ["payment-requested.v1"] = typeof(PaymentRequested),
        ["payment-succeeded.v1"] = typeof(PaymentSucceeded),
        ["payment-failed.v1"] = typeof(PaymentFailed),
        ["subscribe.v1"] = typeof(SubscribeAccount),
        ["cancel-subscription.v1"] = typeof(CancelAccountSubscription),
        ["add-payment-method.v1"] = typeof(AddAccountPaymentMethod),
        ["remove-payment-method.v1"] = typeof(RemoveAccountPaymentMethod),
        ["set-default-payment-method.v1"] = typeof(SetAccountDefaultPaymentMethod),
        ["configure-auto-recharge.v1"] = typeof(ConfigureAccountAutoRecharge),
        ["command-result.v1"] = typeof(AccountCommandResult),
        ["add-funds.v1"] = typeof(AddAccountFunds),
        ["funds-result.v1"] = typeof(FundsResult),
        ["get-subscriptions.v1"] = typeof(GetAccountSubscriptions),
        ["subscriptions.v1"] = typeof(AccountSubscriptions),
        ["get-payment-methods.v1"] = typeof(GetAccountPaymentMethods),
        ["payment-methods.v1"] = typeof(AccountPaymentMethods),
        ["invoice-voided.v1"] = typeof(InvoiceVoided),
        ["invoice-marked-uncollectible.v1"] = typeof(InvoiceMarkedUncollectible),
        ["void-invoice.v1"] = typeof(VoidAccountInvoice),
        ["mark-invoice-uncollectible.v1"] = typeof(MarkAccountInvoiceUncollectible),
    };

    /// <summary>Types this serializer is bound to in the actor system.</summary>
    public static readonly Type[] BoundTypes = [typeof(IAccountMessage), typeof(IAccountEvent), typeof(AccountSnapshot), typeof(IAccountScheduleMessage)];

    public override int Identifier => Id;

    public override string Manifest(object o) => o is UsageRecorded ? UsageRecordedFormat.Manifest : base.Manifest(o);

    public override byte[] ToBinary(object obj) => obj is UsageRecorded e ? UsageRecordedFormat.Write(e) : base.ToBinary(obj);

    public override object FromBinary(byte[] bytes, string manifest) =>
        manifest is UsageRecordedFormat.Manifest or UsageRecordedFormat.ManifestV2
            ? UsageRecordedFormat.Read(bytes, manifest)
            : base.FromBinary(bytes, manifest);
}
