using Metering.Accounts.Messages;
using Metering.Domain.Accounts;
using Metering.Domain.Payments;
using Metering.Projections;

namespace Metering.Host.Api;

/// <summary>Cards, added funds, auto-recharge and the ledger of an account.</summary>
public static class BillingEndpoints
{
    public sealed record CardRequest(string? Type, string? Number, int ExpMonth, int ExpYear, string? Cvc, string? HolderName, bool MakeDefault);
    public sealed record PaymentMethodView(string Id, string Brand, string Funding, string Last4, int ExpMonth, int ExpYear, string HolderName, bool IsDefault);
    public sealed record FundsRequest(decimal Amount, string? PaymentMethodId, string? IdempotencyKey);
    public sealed record PurchaseResultView(string Id, string Kind, string Status, decimal Amount, string Currency, string PaymentMethodId, string? ChargeId, DateTimeOffset RequestedAt, DateTimeOffset? CompletedAt);
    public sealed record AutoRechargeRequest(bool Enabled, decimal Threshold, decimal Amount, string? PaymentMethodId);

    public static RouteGroupBuilder MapBillingEndpoints(this RouteGroupBuilder api)
    {
        var account = api.MapGroup("/accounts/{accountId}");
        account.MapGet("/payment-methods", ListPaymentMethods).WithName("ListPaymentMethods");
        account.MapPost("/payment-methods", AddPaymentMethod).WithName("AddPaymentMethod");
        account.MapDelete("/payment-methods/{paymentMethodId}", (string accountId, string paymentMethodId, AccountApi a, CancellationToken ct) =>
            PaymentMethodCommand(accountId, new RemoveAccountPaymentMethod(accountId, paymentMethodId), a, ct)).WithName("RemovePaymentMethod");
        account.MapPut("/payment-methods/{paymentMethodId}/default", (string accountId, string paymentMethodId, AccountApi a, CancellationToken ct) =>
            PaymentMethodCommand(accountId, new SetAccountDefaultPaymentMethod(accountId, paymentMethodId), a, ct)).WithName("SetDefaultPaymentMethod");
        account.MapPost("/funds", AddFunds).WithName("AddFunds");
        account.MapPut("/auto-recharge", ConfigureAutoRecharge).WithName("ConfigureAutoRecharge");
        account.MapGet("/ledger", (string accountId, BillingListsReadModel lists, CancellationToken ct, int page = 1, int pageSize = 50, DateTimeOffset? from = null, DateTimeOffset? to = null) =>
                InvoicesEndpoints.PageAsync<LedgerEntry>(lists, accountId, BillingListsProjection.Kinds.Ledger, page, pageSize, from, to, ct))
            .WithName("GetLedger").WithSummary("Funds, recharges and fees, newest first");
        return api;
    }

    private static async Task<IResult> ListPaymentMethods(string accountId, AccountApi api, CancellationToken ct)
    {
        var methods = await api.AskAsync<AccountPaymentMethods>(new GetAccountPaymentMethods(accountId), ct);
        return Results.Ok(methods.Methods.Select(m => ToView(m, methods.DefaultPaymentMethodId)).ToArray());
    }

    /// <summary>
    /// The card goes to the gateway and nowhere else: the account only ever sees the token and the
    /// fields that may be shown. The number and CVC are not logged, stored or returned.
    /// </summary>
    private static async Task<IResult> AddPaymentMethod(string accountId, CardRequest request, AccountApi api, IPaymentGateway gateway, TimeProvider time, CancellationToken ct)
    {
        if (request.Type is not (null or "card"))
            return AccountApi.BadRequest("unsupported_type", "Only cards (type \"card\") are accepted.");
        var card = new CardDetails(request.Number ?? "", request.ExpMonth, request.ExpYear, request.Cvc ?? "", request.HolderName ?? "");
        var errors = CardValidation.Validate(card, DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime));
        if (errors.Count > 0)
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid card", detail: string.Join(" ", errors.Select(e => e.Message)),
                extensions: new Dictionary<string, object?> { ["code"] = errors[0].Code, ["errors"] = errors });

        var tokenized = await gateway.TokenizeAsync(card, ct);
        if (tokenized.Card is not { } paymentCard)
            return Results.Problem(statusCode: StatusCodes.Status402PaymentRequired, title: "The card was refused", detail: tokenized.Error?.Message,
                extensions: new Dictionary<string, object?> { ["code"] = tokenized.Error?.Code });

        var result = await api.AskAsync<AccountCommandResult>(new AddAccountPaymentMethod(accountId, paymentCard, request.MakeDefault), ct);
        if (result.Outcome.Refusal is { } refusal) return AccountApi.Problem(refusal);
        var methods = await api.AskAsync<AccountPaymentMethods>(new GetAccountPaymentMethods(accountId), ct);
        var added = methods.Methods.Single(m => m.Id == result.Outcome.Id);
        return Results.Created($"/api/v1/accounts/{accountId}/payment-methods/{added.Id}", ToView(added, methods.DefaultPaymentMethodId));
    }

    private static async Task<IResult> PaymentMethodCommand(string accountId, IAccountMessage command, AccountApi api, CancellationToken ct)
    {
        var result = await api.AskAsync<AccountCommandResult>(command, ct);
        if (result.Outcome.Refusal is { } refusal) return AccountApi.Problem(refusal);
        return await ListPaymentMethods(accountId, api, ct);
    }

    /// <summary>
    /// Charges the card and answers once the gateway did. The idempotency key (body or
    /// <c>Idempotency-Key</c> header) makes a retried request answer the first result and never add twice.
    /// </summary>
    private static async Task<IResult> AddFunds(string accountId, FundsRequest request, HttpRequest http, AccountApi api, CancellationToken ct)
    {
        var key = request.IdempotencyKey ?? http.Headers["Idempotency-Key"].FirstOrDefault();
        if (string.IsNullOrWhiteSpace(key))
            return AccountApi.BadRequest("missing_idempotency_key", "Send an idempotencyKey (or an Idempotency-Key header) so a retry never adds funds twice.");

        var result = await api.AskAsync<FundsResult>(new AddAccountFunds(accountId, request.Amount, request.PaymentMethodId, key), ct);
        if (result.Refusal is { } refusal) return AccountApi.Problem(refusal);
        var purchase = result.Purchase!;
        if (purchase.Status == PurchaseStatus.Failed)
            return Results.Problem(statusCode: StatusCodes.Status402PaymentRequired, title: "The card was declined", detail: purchase.FailureMessage,
                extensions: new Dictionary<string, object?> { ["code"] = purchase.FailureCode, ["purchaseId"] = purchase.Id });
        return Results.Ok(ToView(purchase));
    }

    private static async Task<IResult> ConfigureAutoRecharge(string accountId, AutoRechargeRequest request, AccountApi api, CancellationToken ct)
    {
        var settings = new AutoRechargeSettings(request.Enabled, request.Threshold, request.Amount, request.PaymentMethodId);
        var result = await api.AskAsync<AccountCommandResult>(new ConfigureAccountAutoRecharge(accountId, settings), ct);
        return result.Outcome.Refusal is { } refusal
            ? AccountApi.Problem(refusal)
            : Results.Ok(new { request.Enabled, request.Threshold, request.Amount, request.PaymentMethodId });
    }

    private static PaymentMethodView ToView(PaymentMethod m, string? defaultId) =>
        new(m.Id, m.Card.Brand, m.Card.Funding.ToString().ToLowerInvariant(), m.Card.Last4, m.Card.ExpMonth, m.Card.ExpYear, m.Card.HolderName, m.Id == defaultId);

    public static PurchaseResultView ToView(Purchase p) =>
        new(p.Id, p.Kind.ToString().ToLowerInvariant(), p.Status.ToString().ToLowerInvariant(), p.Amount, p.Currency, p.PaymentMethodId, p.ChargeId, p.RequestedAt, p.CompletedAt);
}
