using System.Diagnostics.CodeAnalysis;

namespace Metering.Domain.Payments;

/// <summary>
/// Where card payments go. The product ships a durable sandbox (test-mode) implementation; a real provider
/// adapter (for example one for Stripe: tokens/payment methods, charges/payment intents with an
/// <c>Idempotency-Key</c> header, and a lookup by that key) implements the same three calls, so nothing else changes.
/// </summary>
/// <remarks>
/// Card numbers and CVCs go in through <see cref="TokenizeAsync"/> only and never come back out: everything after
/// tokenization works with the opaque token and the safe fields of <see cref="PaymentCard"/>.
/// Calls are asynchronous because real gateways are remote.
/// </remarks>
public interface IPaymentGateway
{
    /// <summary>
    /// Exchanges card details for a reusable token. Fails (no exception) when the card does not validate
    /// (codes of <see cref="CardErrorCodes"/>) or the provider refuses it.
    /// </summary>
    Task<TokenizeResult> TokenizeAsync(CardDetails card, CancellationToken ct);

    /// <summary>
    /// Charges <paramref name="amount"/> (major units, e.g. 12.34) of <paramref name="currency"/> (ISO 4217) to the card
    /// behind <paramref name="token"/>. Idempotent by <paramref name="idempotencyKey"/>: the same key always returns the
    /// result of the first charge attempt and never charges twice, also across restarts. A declined charge is a result
    /// too (<see cref="ChargeResult.Succeeded"/> false); exceptions mean "unknown, retry with the same key".
    /// </summary>
    Task<ChargeResult> ChargeAsync(string idempotencyKey, string token, decimal amount, string currency, CancellationToken ct);

    /// <summary>The recorded result for <paramref name="idempotencyKey"/>, or null when nothing was charged with it.</summary>
    Task<ChargeResult?> FindChargeAsync(string idempotencyKey, CancellationToken ct);
}

/// <summary>A tokenized card: the token plus the fields that are safe to store and show.</summary>
/// <param name="Token">Opaque reference to use for charges.</param>
/// <param name="Brand"><c>visa</c>, <c>mastercard</c>, <c>amex</c> or <c>discover</c>.</param>
/// <param name="Last4">Last four digits of the number.</param>
public sealed record PaymentCard(
    string Token,
    string Brand,
    CardFunding Funding,
    string Last4,
    int ExpMonth,
    int ExpYear,
    string HolderName);

/// <summary>Why a gateway call failed; messages never quote the number or the CVC.</summary>
/// <param name="Code">Machine-readable, e.g. <c>invalid_number</c>, <c>expired</c>, <c>card_declined</c>.</param>
/// <param name="Field">The <see cref="CardDetails"/> field at fault, when there is one.</param>
public sealed record PaymentError(string Code, string Message, string? Field = null);

/// <summary>Exactly one of <see cref="Card"/> (success) and <see cref="Error"/> (failure) is set.</summary>
public sealed record TokenizeResult
{
    public TokenizeResult(PaymentCard? Card, PaymentError? Error)
    {
        if ((Card is null) == (Error is null))
        {
            throw new ArgumentException("Exactly one of Card and Error must be set.");
        }
        this.Card = Card;
        this.Error = Error;
    }

    public PaymentCard? Card { get; }
    public PaymentError? Error { get; }

    [MemberNotNullWhen(true, nameof(Card))]
    [MemberNotNullWhen(false, nameof(Error))]
    public bool Succeeded => Card is not null;

    public void Deconstruct(out PaymentCard? card, out PaymentError? error)
    {
        card = Card;
        error = Error;
    }

    public static TokenizeResult Success(PaymentCard card) => new(card ?? throw new ArgumentNullException(nameof(card)), null);

    public static TokenizeResult Failure(PaymentError error) => new(null, error ?? throw new ArgumentNullException(nameof(error)));

    public static TokenizeResult Failure(string code, string message, string? field = null) => Failure(new PaymentError(code, message, field));
}

/// <summary>The outcome of one charge attempt, as recorded under its idempotency key.</summary>
/// <param name="ChargeId">The provider's id of the charge when it succeeded; null when it failed.</param>
/// <param name="FailureCode">Set when it failed, e.g. <c>card_declined</c>, <c>insufficient_funds</c>, <c>expired_card</c>, <c>invalid_amount</c>.</param>
/// <param name="Amount">Amount in major units as charged (or attempted).</param>
/// <param name="Currency">ISO 4217 code, upper case.</param>
public sealed record ChargeResult(
    string IdempotencyKey,
    bool Succeeded,
    string? ChargeId,
    string? FailureCode,
    string? FailureMessage,
    decimal Amount,
    string Currency);

/// <summary>Failure codes of <see cref="ChargeResult.FailureCode"/> that any gateway may return.</summary>
public static class ChargeFailureCodes
{
    public const string CardDeclined = "card_declined";
    public const string InsufficientFunds = "insufficient_funds";
    public const string ExpiredCard = "expired_card";
    public const string InvalidAmount = "invalid_amount";
    public const string InvalidCurrency = "invalid_currency";
    public const string InvalidToken = "invalid_token";
}
