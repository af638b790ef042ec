namespace Metering.Domain.Accounts;

public sealed partial class Account
{
    public const int MaxPaymentMethods = 10;
    public const int MaxIdempotencyKeyLength = 100;

    private readonly List<PaymentMethod> _paymentMethods = [];
    private readonly Dictionary<string, Purchase> _purchases = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _purchaseByClientKey = new(StringComparer.Ordinal);
    private readonly List<LedgerEntry> _ledger = [];
    private int _paymentMethodSeq;

    public decimal Balance { get; private set; }
    public decimal PendingBalance { get; private set; }
    public IReadOnlyList<PaymentMethod> PaymentMethods => _paymentMethods;
    public string? DefaultPaymentMethodId { get; private set; }
    public AutoRechargeSettings AutoRecharge { get; private set; } = AutoRechargeSettings.Off;
    /// <summary>Why auto-recharge stopped trying, until the user changes the settings; null while it works.</summary>
    public string? AutoRechargeSuspendedReason { get; private set; }
    /// <summary>Recharges that failed in a row since the last success or settings change.</summary>
    public int RechargeFailures { get; private set; }
    public DateTimeOffset? LastRechargeFailureAt { get; private set; }
    public IReadOnlyCollection<Purchase> Purchases => _purchases.Values;
    public IReadOnlyList<LedgerEntry> Ledger => _ledger;

    public Purchase? FindPurchase(string purchaseId) => _purchases.GetValueOrDefault(purchaseId);

    /// <summary>Charges sent to the gateway without an answer yet: after a crash, these are resumed with the same key.</summary>
    public IEnumerable<Purchase> PendingPurchases => _purchases.Values.Where(p => p.Status == PurchaseStatus.Pending);

    /// <summary>The latest completed purchase (ties go to the one requested later).</summary>
    public Purchase? LastPurchase => _purchases.Values
        .Where(p => p.Status == PurchaseStatus.Succeeded)
        .OrderBy(p => p.CompletedAt)
        .LastOrDefault();

    /// <summary>When a failed recharge may be tried again; null when none is waiting.</summary>
    public DateTimeOffset? RechargeRetryDueAt =>
        RechargeFailures > 0 && AutoRechargeSuspendedReason is null && LastRechargeFailureAt is { } at
            ? at + Settings.BackoffAfter(RechargeFailures)
            : null;

    public Decision<Outcome> Decide(AddPaymentMethod command)
    {
        if (_paymentMethods.Count >= MaxPaymentMethods)
            return Refuse("too_many_payment_methods", $"An account keeps at most {MaxPaymentMethods} cards.");
        var id = $"pm_{_paymentMethodSeq + 1}";
        var method = new PaymentMethod(id, command.Card, command.At);
        return new([new PaymentMethodAdded(method, command.MakeDefault || _paymentMethods.Count == 0, command.At)], new Outcome(id));
    }

    public Decision<Outcome> Decide(RemovePaymentMethod command)
    {
        if (_paymentMethods.All(m => m.Id != command.PaymentMethodId))
            return Refuse("not_found", $"No payment method '{command.PaymentMethodId}'.");
        if (AutoRecharge.Enabled && RechargeMethodId == command.PaymentMethodId)
            return Refuse("payment_method_in_use", "Auto-recharge charges this card. Choose another card for auto-recharge or turn it off first.");
        return new([new PaymentMethodRemoved(command.PaymentMethodId, command.At)], new Outcome(command.PaymentMethodId));
    }

    public Decision<Outcome> Decide(SetDefaultPaymentMethod command) =>
        _paymentMethods.Any(m => m.Id == command.PaymentMethodId)
            ? new([new DefaultPaymentMethodSet(command.PaymentMethodId, command.At)], new Outcome(command.PaymentMethodId))
            : Refuse("not_found", $"No payment method '{command.PaymentMethodId}'.");

    public Decision<Outcome> Decide(ConfigureAutoRecharge command)
    {
        var s = command.Settings;
        if (s.Threshold < 0 || decimal.Round(s.Threshold, 2) != s.Threshold)
            return Refuse("invalid_threshold", "The threshold is zero or more, with at most 2 decimals.");
        if (s.Enabled && InvalidAmount(s.Amount) is { } amountError)
            return Refuse("invalid_amount", amountError);
        if (s.PaymentMethodId is not null && _paymentMethods.All(m => m.Id != s.PaymentMethodId))
            return Refuse("unknown_payment_method", $"No payment method '{s.PaymentMethodId}'.");
        if (s.Enabled && (s.PaymentMethodId ?? DefaultPaymentMethodId) is null)
            return Refuse("no_payment_method", "Add a card before turning auto-recharge on.");

        var configured = new AutoRechargeConfigured(s, command.At);
        // Turning it on under the threshold recharges at once, as a user would expect.
        var recharge = s.Enabled ? MaybeRecharge(Balance, command.At, s, failures: 0, suspended: false) : null;
        return new(recharge is null ? [configured] : [configured, recharge], new Outcome());
    }

    public Decision<Outcome> Decide(AddFunds command)
    {
        if (string.IsNullOrWhiteSpace(command.IdempotencyKey) || command.IdempotencyKey.Length > MaxIdempotencyKeyLength)
            return Refuse("invalid_idempotency_key", $"An idempotency key is 1 to {MaxIdempotencyKeyLength} characters.");
        if (_purchaseByClientKey.TryGetValue(command.IdempotencyKey, out var existingId))
        {
            var existing = _purchases[existingId];
            return existing.Amount == command.Amount && (command.PaymentMethodId is null || command.PaymentMethodId == existing.PaymentMethodId)
                ? new([], new Outcome(existing.Id))
                : Refuse("idempotency_key_reused", "This idempotency key was used for a different request.");
        }
        if (InvalidAmount(command.Amount) is { } amountError)
            return Refuse("invalid_amount", amountError);
        var methodId = command.PaymentMethodId ?? DefaultPaymentMethodId;
        var method = _paymentMethods.Find(m => m.Id == methodId);
        if (method is null)
            return methodId is null
                ? Refuse("no_payment_method", "Add a card first.")
                : Refuse("unknown_payment_method", $"No payment method '{methodId}'.");

        var request = Request(PurchaseKind.Funds, command.Amount, method, command.IdempotencyKey, attempt: 1, command.At);
        return new([request], new Outcome(request.PurchaseId));
    }

    public Decision<Outcome> Decide(RecordPaymentResult command)
    {
        // Answers for unknown or settled purchases are repeats (a resumed call): nothing to do.
        if (_purchases.GetValueOrDefault(command.PurchaseId) is not { Status: PurchaseStatus.Pending } purchase)
            return new([], new Outcome(command.PurchaseId));
        if (command.Succeeded)
            return new([new PaymentSucceeded(purchase.Id, command.ChargeId ?? "", command.At)], new Outcome(purchase.Id));

        var failed = new PaymentFailed(purchase.Id, command.FailureCode ?? "payment_failed", command.FailureMessage ?? "The payment failed.", command.At);
        // A declined renewal falls back to the wallet, which may then need a recharge.
        if (purchase.Kind == PurchaseKind.Renewal && MaybeRecharge(Wallet.AfterCharge(Balance, PendingBalance, purchase.Amount).Balance, command.At) is { } recharge)
            return new([failed, recharge], new Outcome(purchase.Id));
        if (purchase.Kind == PurchaseKind.Recharge && RechargeFailures + 1 >= Settings.MaxRechargeAttempts)
            return new([failed, new AutoRechargeSuspended($"{failed.Code}: {failed.Message} ({RechargeFailures + 1} attempts)", command.At)], new Outcome(purchase.Id));
        return new([failed], new Outcome(purchase.Id));
    }

    public Decision<Outcome> Decide(RetryRecharge command) =>
        MaybeRecharge(Balance, command.At) is { } recharge ? new([recharge], new Outcome(recharge.PurchaseId)) : new([], new Outcome());

    private string? RechargeMethodId => AutoRecharge.PaymentMethodId ?? DefaultPaymentMethodId;

    /// <param name="requestedBefore">Card charges requested earlier in the same decision, not applied yet (their ids are taken).</param>
    private PaymentRequested? MaybeRecharge(decimal balanceAfter, DateTimeOffset at, int requestedBefore = 0) =>
        MaybeRecharge(balanceAfter, at, AutoRecharge, RechargeFailures, AutoRechargeSuspendedReason is not null, requestedBefore);

    /// <summary>
    /// Auto-recharge's rule: on, not suspended, under the threshold, nothing in flight, the day's cap
    /// not reached, and after a failure only once its backoff has passed.
    /// </summary>
    private PaymentRequested? MaybeRecharge(decimal balanceAfter, DateTimeOffset at, AutoRechargeSettings settings, int failures, bool suspended, int requestedBefore = 0)
    {
        if (!settings.Enabled || suspended || balanceAfter >= settings.Threshold) return null;
        if (PendingPurchases.Any(p => p.Kind == PurchaseKind.Recharge)) return null;
        if (failures > 0 && LastRechargeFailureAt is { } failedAt && at < failedAt + Settings.BackoffAfter(failures)) return null;
        var day = at.UtcDateTime.Date;
        if (_purchases.Values.Count(p => p.Kind == PurchaseKind.Recharge && p.RequestedAt.UtcDateTime.Date == day) >= Settings.RechargeDailyCap) return null;
        var method = _paymentMethods.Find(m => m.Id == (settings.PaymentMethodId ?? DefaultPaymentMethodId));
        return method is null ? null : Request(PurchaseKind.Recharge, settings.Amount, method, clientKey: null, failures + 1, at, requestedBefore);
    }

    private PaymentRequested Request(PurchaseKind kind, decimal amount, PaymentMethod method, string? clientKey, int attempt, DateTimeOffset at,
        int requestedBefore = 0, string? invoiceId = null)
    {
        var purchaseId = $"pur_{_purchases.Count + 1 + requestedBefore}";
        // Unique across accounts and stable across crashes: the gateway charges a key once.
        var gatewayKey = $"{Id}/{purchaseId}";
        return new PaymentRequested(purchaseId, kind, gatewayKey, clientKey, amount, Currency, method.Id, method.Card.Token, attempt, at, invoiceId);
    }

    private string? InvalidAmount(decimal amount) =>
        amount <= 0 ? "The amount must be greater than zero."
        : decimal.Round(amount, 2) != amount ? "The amount has at most 2 decimals."
        : amount > Settings.MaxPaymentAmount ? $"The amount is at most {Settings.MaxPaymentAmount}."
        : null;

    private void ApplyPaymentMethodAdded(PaymentMethodAdded e)
    {
        _paymentMethodSeq++;
        _paymentMethods.Add(e.Method);
        if (e.MakeDefault || DefaultPaymentMethodId is null) DefaultPaymentMethodId = e.Method.Id;
    }

    private void ApplyPaymentMethodRemoved(PaymentMethodRemoved e)
    {
        _paymentMethods.RemoveAll(m => m.Id == e.PaymentMethodId);
        // The oldest remaining card becomes the default, so there is one whenever there are cards.
        if (DefaultPaymentMethodId == e.PaymentMethodId) DefaultPaymentMethodId = _paymentMethods.FirstOrDefault()?.Id;
        if (AutoRecharge.PaymentMethodId == e.PaymentMethodId) AutoRecharge = AutoRecharge with { PaymentMethodId = null };
    }

    private void ApplyAutoRechargeConfigured(AutoRechargeConfigured e)
    {
        AutoRecharge = e.Settings;
        AutoRechargeSuspendedReason = null;
        RechargeFailures = 0;
        LastRechargeFailureAt = null;
    }

    private void ApplyPaymentRequested(PaymentRequested e)
    {
        _purchases[e.PurchaseId] = new Purchase(e.PurchaseId, e.Kind, e.GatewayKey, e.ClientKey, e.Amount, e.Currency, e.PaymentMethodId, e.Token, e.Attempt, e.At,
            InvoiceId: e.InvoiceId);
        if (e.ClientKey is not null) _purchaseByClientKey[e.ClientKey] = e.PurchaseId;
    }

    private void ApplyPaymentSucceeded(PaymentSucceeded e)
    {
        var purchase = _purchases[e.PurchaseId] with { Status = PurchaseStatus.Succeeded, ChargeId = e.ChargeId, CompletedAt = e.At };
        _purchases[e.PurchaseId] = purchase;
        if (purchase.Kind == PurchaseKind.Renewal)
        {
            // The card paid the invoice itself: the wallet does not move.
            SettleCardCharge(purchase.InvoiceId!, purchase.Amount, owed: 0);
            return;
        }
        Credit(purchase.Amount, e.At);
        AddLedger(e.At, purchase.Kind == PurchaseKind.Funds ? "funds" : "recharge", purchase.Description, purchase.Amount);
        AddReceipt(purchase, e.At);
        if (purchase.Kind == PurchaseKind.Recharge)
        {
            RechargeFailures = 0;
            LastRechargeFailureAt = null;
            Notify("auto_recharge.succeeded", $"recharge:{purchase.Id}", $"Auto-recharge added {purchase.Amount} {purchase.Currency}.", e.At,
                ("purchaseId", purchase.Id), ("amount", purchase.Amount.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }
    }

    private void ApplyPaymentFailed(PaymentFailed e)
    {
        var purchase = _purchases[e.PurchaseId] with { Status = PurchaseStatus.Failed, FailureCode = e.Code, FailureMessage = e.Message, CompletedAt = e.At };
        _purchases[e.PurchaseId] = purchase;
        if (purchase.Kind == PurchaseKind.Recharge)
        {
            RechargeFailures++;
            LastRechargeFailureAt = e.At;
            Notify("auto_recharge.failed", $"recharge:{purchase.Id}", $"Auto-recharge of {purchase.Amount} {purchase.Currency} failed: {e.Message}", e.At,
                ("purchaseId", purchase.Id), ("code", e.Code));
        }
        else if (purchase.Kind == PurchaseKind.Renewal)
        {
            // Declined: the wallet pays instead, as it would have without the card preference; what it cannot cover stays due.
            var pendingBefore = PendingBalance;
            (Balance, PendingBalance) = Wallet.AfterCharge(Balance, PendingBalance, purchase.Amount);
            SettleCardCharge(purchase.InvoiceId!, purchase.Amount, owed: PendingBalance - pendingBefore);
            var number = _invoices.Find(i => i.Id == purchase.InvoiceId)!.Number;
            AddLedger(e.At, "invoice", $"Invoice {number} (card declined)", -purchase.Amount);
            Notify("renewal.card_declined", $"renewal_card:{purchase.Id}",
                $"The card was declined for invoice {number} ({purchase.Amount} {purchase.Currency}): {e.Message} The wallet was charged instead.", e.At,
                ("invoiceId", purchase.InvoiceId!), ("purchaseId", purchase.Id), ("code", e.Code));
            AfterWalletChange(pendingBefore, e.At);
        }
    }

    private void Charge(decimal amount, DateTimeOffset at)
    {
        var pendingBefore = PendingBalance;
        (Balance, PendingBalance) = Wallet.AfterCharge(Balance, PendingBalance, amount);
        AfterWalletChange(pendingBefore, at);
    }

    private void Credit(decimal amount, DateTimeOffset at)
    {
        var pendingBefore = PendingBalance;
        (Balance, PendingBalance) = Wallet.AfterCredit(Balance, PendingBalance, amount);
        AfterWalletChange(pendingBefore, at);
    }

    private void AddLedger(DateTimeOffset at, string kind, string description, decimal amount) =>
        _ledger.Add(new LedgerEntry($"le_{_ledger.Count + 1}", at, kind, description, amount, Balance, PendingBalance));
}
