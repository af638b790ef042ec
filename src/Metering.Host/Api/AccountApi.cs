using Akka.Actor;
using Akka.Hosting;
using Metering.Accounts;
using Metering.Accounts.Messages;
using Metering.Domain.Accounts;

namespace Metering.Host.Api;

/// <summary>What every account endpoint shares: id validation, asking the account, mapping refusals to problems.</summary>
public sealed class AccountApi(IRequiredActor<AccountRegion> accounts, AccountsOptions options)
{
    public async Task<T> AskAsync<T>(IAccountMessage message, CancellationToken ct)
    {
        var region = await accounts.GetAsync(ct);
        return await region.Ask<T>(message, options.AskTimeout, ct);
    }

    /// <summary>Not found is 404, a conflict with the account's state 409, anything else about the input 400.</summary>
    public static IResult Problem(Refusal refusal) =>
        Results.Problem(
            statusCode: refusal.Code switch
            {
                "not_found" => StatusCodes.Status404NotFound,
                "payment_method_in_use" or "not_active" or "idempotency_key_reused" or "currency_mismatch"
                    or "too_many_subscriptions" or "too_many_payment_methods" or "invoice_not_open" or "payment_in_progress" => StatusCodes.Status409Conflict,
                _ => StatusCodes.Status400BadRequest,
            },
            title: refusal.Message,
            extensions: new Dictionary<string, object?> { ["code"] = refusal.Code });

    public static IResult BadRequest(string code, string detail) =>
        Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid request", detail: detail,
            extensions: new Dictionary<string, object?> { ["code"] = code });
}
