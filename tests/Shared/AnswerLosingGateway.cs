using Metering.Domain.Payments;

namespace Metering.Tests.Shared;

/// <summary>
/// Fault injection around a real gateway (the sandbox): the charge happens, the answer never
/// arrives, as when the engine dies between the gateway's reply and the journal write.
/// </summary>
public sealed class AnswerLosingGateway(IPaymentGateway inner) : IPaymentGateway, IDisposable
{
    public Task<TokenizeResult> TokenizeAsync(CardDetails card, CancellationToken ct) => inner.TokenizeAsync(card, ct);

    public async Task<ChargeResult> ChargeAsync(string idempotencyKey, string token, decimal amount, string currency, CancellationToken ct)
    {
        await inner.ChargeAsync(idempotencyKey, token, amount, currency, ct);
        await Task.Delay(Timeout.Infinite, ct);
        throw new InvalidOperationException("unreachable");
    }

    public Task<ChargeResult?> FindChargeAsync(string idempotencyKey, CancellationToken ct) => inner.FindChargeAsync(idempotencyKey, ct);

    public void Dispose() => (inner as IDisposable)?.Dispose();
}
