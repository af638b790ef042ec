using Metering.Domain.Pricing;

namespace Metering.Domain.Accounts;

public enum InvoiceStatus { Draft, Open, Paid, Void, Uncollectible }

/// <summary>A plan period's invoice, or the receipt of added funds or a recharge.</summary>
public enum InvoiceKind { Subscription, Receipt }

public sealed record InvoiceLine(string Description, decimal Quantity, decimal Amount);

/// <summary>
/// An invoice. Numbers count per account without gaps (<c>{account}-000001</c>): a number is taken
/// only when the invoice is persisted, and nothing is ever deleted (a wrong invoice is voided).
/// </summary>
/// <param name="ChargedAtIssue">What issuing it debited from the wallet: the fee and the tax. Overage
/// lines were debited as the usage arrived and are listed for the record.</param>
/// <param name="AmountDue">The part of the charge the wallet could not cover; settled by later funds, oldest invoice first.</param>
public sealed record Invoice(
    string Id,
    string Number,
    InvoiceKind Kind,
    string? SubscriptionId,
    DateTimeOffset? PeriodStart,
    DateTimeOffset? PeriodEnd,
    IReadOnlyList<InvoiceLine> Lines,
    decimal Subtotal,
    decimal TaxRate,
    decimal Tax,
    decimal Total,
    decimal ChargedAtIssue,
    decimal AmountPaid,
    decimal AmountDue,
    InvoiceStatus Status,
    string Currency,
    BillingInfo? BillTo,
    DateTimeOffset IssuedAt,
    DateTimeOffset DueAt);

/// <summary>One billing period of a subscription, with the invoice that opened it.</summary>
public sealed record SubscriptionPeriod(DateTimeOffset Start, DateTimeOffset End, string? InvoiceId, decimal Amount);

public sealed record BillingInfo(string? Name, string? Email, string? Address, string? Country, string? TaxId);

/// <param name="RenewalReminderDays">Days before a renewal to send <c>renewal.upcoming</c>.</param>
/// <param name="InvoiceDueReminderDays">Days before an open invoice's due date to send <c>invoice.due_soon</c>.</param>
/// <param name="LowBalanceThreshold">Send <c>balance.low</c> when the balance falls under this; null: never.</param>
/// <param name="Channels">Where notifications go besides the list: <c>kafka</c> (the notifications topic) and <c>webhook</c>.</param>
/// <param name="WebhookSecret">Key of the HMAC-SHA256 signature on webhook calls; at least 16 characters. The host stores it
/// sealed (encrypted, <see cref="SealedPrefix"/>), so the journal never holds it in clear.</param>
public sealed record NotificationSettings(
    int RenewalReminderDays,
    int InvoiceDueReminderDays,
    decimal? LowBalanceThreshold,
    IReadOnlyList<string> Channels,
    string? WebhookUrl,
    string? WebhookSecret)
{
    public static NotificationSettings Default { get; } = new(7, 3, null, ["kafka"], null, null);

    /// <summary>Marks a secret encrypted by the host; the domain only checks it is not absurdly long.</summary>
    public const string SealedPrefix = "sealed:";
    public const int MaxSealedLength = 512;

    public bool HasValidSecret => WebhookSecret is { Length: >= 16 and <= 200 }
        || (WebhookSecret is { } s && s.StartsWith(SealedPrefix, StringComparison.Ordinal) && s.Length <= MaxSealedLength);
}

/// <summary>How renewal invoices are paid.</summary>
public enum RenewalPayment
{
    /// <summary>Debited from the wallet; what it cannot cover becomes pending balance.</summary>
    Wallet,
    /// <summary>Charged to the default card; a declined charge falls back to the wallet.</summary>
    Card,
}

/// <param name="TaxRate">Overrides the country's rate when set (0.21 = 21 %).</param>
/// <param name="RenewalPayment">How renewals pay their fee and tax; no default card means the wallet.</param>
public sealed record Preferences(BillingInfo BillingInfo, NotificationSettings Notifications, decimal? TaxRate = null, RenewalPayment RenewalPayment = RenewalPayment.Wallet)
{
    public static Preferences Default { get; } = new(new BillingInfo(null, null, null, null, null), NotificationSettings.Default);

    /// <summary>The invoice tax rate: the override, else the country's standard VAT rate, else zero.</summary>
    public decimal EffectiveTaxRate => TaxRate ?? TaxRates.For(BillingInfo.Country);

    public const int InvoiceTermDays = 14;

    public IReadOnlyList<Refusal> Validate()
    {
        var errors = new List<Refusal>();
        var info = BillingInfo;
        if (info.Name is { Length: > 200 } || info.Name?.Any(char.IsControl) == true)
            errors.Add(new("billingInfo.name", "At most 200 characters, no control characters."));
        if (info.Email is { } email && (email.Length > 254 || !email.Contains('@') || email.StartsWith('@') || email.EndsWith('@')))
            errors.Add(new("billingInfo.email", "Not an email address."));
        if (info.Address is { Length: > 500 }) errors.Add(new("billingInfo.address", "At most 500 characters."));
        if (info.Country is { } country && (country.Length != 2 || !country.All(char.IsAsciiLetterUpper)))
            errors.Add(new("billingInfo.country", "An ISO 3166-1 alpha-2 code in capitals, e.g. ES."));
        if (info.TaxId is { Length: > 50 } || info.TaxId?.Any(char.IsControl) == true)
            errors.Add(new("billingInfo.taxId", "At most 50 characters, no control characters."));
        var n = Notifications;
        if (n.RenewalReminderDays is < 0 or > 60) errors.Add(new("notifications.renewalReminderDays", "0 to 60 days."));
        if (n.InvoiceDueReminderDays is < 0 or > 60) errors.Add(new("notifications.invoiceDueReminderDays", "0 to 60 days."));
        if (n.LowBalanceThreshold is < 0 || (n.LowBalanceThreshold is { } t && Rating.Round(t) != t))
            errors.Add(new("notifications.lowBalanceThreshold", "Zero or more, at most 2 decimals."));
        if (n.Channels.Any(c => c is not ("kafka" or "webhook")))
            errors.Add(new("notifications.channels", "Channels are kafka and webhook."));
        if (n.Channels.Contains("webhook") && !Uri.TryCreate(n.WebhookUrl, UriKind.Absolute, out _))
            errors.Add(new("notifications.webhookUrl", "The webhook channel needs an absolute http(s) URL."));
        if ((n.Channels.Contains("webhook") || n.WebhookSecret is not null) && !n.HasValidSecret)
            errors.Add(new("notifications.webhookSecret", "The webhook channel needs a secret of 16 to 200 characters to sign its calls."));
        if (n.WebhookUrl is { } url && (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")))
            errors.Add(new("notifications.webhookUrl", "An absolute http(s) URL."));
        if (TaxRate is < 0 or > 1) errors.Add(new("taxRate", "A fraction from 0 to 1 (0.21 = 21 %)."));
        if (!Enum.IsDefined(RenewalPayment)) errors.Add(new("renewalPayment", "wallet or card."));
        return errors;
    }
}

/// <summary>Standard VAT/GST rates by country for invoices; countries not listed pay none (e.g. US sales tax is out of scope).</summary>
public static class TaxRates
{
    private static readonly Dictionary<string, decimal> Standard = new()
    {
        ["ES"] = 0.21m, ["DE"] = 0.19m, ["FR"] = 0.20m, ["IT"] = 0.22m, ["PT"] = 0.23m, ["NL"] = 0.21m,
        ["GB"] = 0.20m, ["IE"] = 0.23m, ["MX"] = 0.16m, ["AR"] = 0.21m, ["CO"] = 0.19m, ["CL"] = 0.19m,
    };

    public static decimal For(string? country) => country is not null && Standard.TryGetValue(country, out var rate) ? rate : 0m;
}

/// <summary>Something the account was told, once per cause.</summary>
/// <param name="Delivered">Sent to the account's channels (or given up on, with <paramref name="DeliveryFailure"/>).</param>
public sealed record Notification(
    string Id, string Type, string Cause, string Message, DateTimeOffset At, IReadOnlyDictionary<string, string> Data,
    bool Delivered = false, string? DeliveryFailure = null);
