using System.Diagnostics;
using Metering.Accounts;
using Metering.Domain.Payments;

namespace Metering.Billing.Payments;

/// <summary>
/// A span around every call to the real gateway, whichever it is: card charges are the slowest and
/// least reliable calls the engine makes. Spans carry the idempotency key and outcome, never card
/// data or tokens.
/// </summary>
public sealed class TracedPaymentGateway(IPaymentGateway inner) : IPaymentGateway
{
    public const string SourceName = "Metering.Payments";

    private static readonly ActivitySource Source = new(SourceName);

    public async Task<TokenizeResult> TokenizeAsync(CardDetails card, CancellationToken ct)
    {
        using var span = Source.StartActivity("payment_gateway tokenize", ActivityKind.Client);
        var result = await span.Traced(() => inner.TokenizeAsync(card, ct));
        span?.SetTag("payment.error_code", result.Error?.Code);
        return result;
    }

    public async Task<ChargeResult> ChargeAsync(string idempotencyKey, string token, decimal amount, string currency, CancellationToken ct)
    {
        using var span = Source.StartActivity("payment_gateway charge", ActivityKind.Client);
        span?.SetTag("payment.idempotency_key", idempotencyKey);
        span?.SetTag("payment.currency", currency);
        var result = await span.Traced(() => inner.ChargeAsync(idempotencyKey, token, amount, currency, ct));
        span?.SetTag("payment.succeeded", result.Succeeded);
        span?.SetTag("payment.failure_code", result.FailureCode);
        return result;
    }

    public async Task<ChargeResult?> FindChargeAsync(string idempotencyKey, CancellationToken ct)
    {
        using var span = Source.StartActivity("payment_gateway find_charge", ActivityKind.Client);
        span?.SetTag("payment.idempotency_key", idempotencyKey);
        return await span.Traced(() => inner.FindChargeAsync(idempotencyKey, ct));
    }
}
