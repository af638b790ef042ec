using Metering.Accounts.Messages;
using Metering.Billing.Invoices;
using Metering.Domain.Accounts;
using Metering.Projections;

namespace Metering.Host.Api;

/// <summary>Invoices and receipts (JSON, PDF, printable HTML), billing preferences and notifications.</summary>
public static class InvoicesEndpoints
{
    /// <summary>Every list answers pages of this shape: <c>page</c> (from 1) and <c>pageSize</c> (1 to 500), newest first.</summary>
    public sealed record Paged<T>(IReadOnlyList<T> Items, int Page, int PageSize, int Total);

    /// <summary>
    /// A page of one of the billing lists, from the billing projection (eventually consistent: the
    /// account actor is not asked). <paramref name="from"/> and <paramref name="to"/> filter on the
    /// item's time.
    /// </summary>
    public static async Task<IResult> PageAsync<T>(BillingListsReadModel lists, string accountId, string kind, int page, int pageSize,
        DateTimeOffset? from, DateTimeOffset? to, CancellationToken ct, Func<T, object>? view = null)
    {
        if (InvalidPage(page, pageSize) is { } bad) return bad;
        if (from > to) return AccountApi.BadRequest("invalid_range", "from is after to.");
        var found = await lists.PageAsync<T>(accountId, kind, from, to, page, pageSize, ct);
        return Results.Ok(new Paged<object>(found.Items.Select(i => view is null ? i! : view(i)).ToArray(), page, pageSize, found.Total));
    }

    public static RouteGroupBuilder MapInvoicesEndpoints(this RouteGroupBuilder api)
    {
        var account = api.MapGroup("/accounts/{accountId}");
        account.MapGet("/invoices", (string accountId, BillingListsReadModel lists, CancellationToken ct, int page = 1, int pageSize = 50, DateTimeOffset? from = null, DateTimeOffset? to = null) =>
                PageAsync<Invoice>(lists, accountId, BillingListsProjection.Kinds.Invoice, page, pageSize, from, to, ct))
            .WithName("ListInvoices").WithSummary("Invoices and receipts, newest first; from/to filter on the issue date");
        account.MapGet("/invoices/{invoiceId}", async (string accountId, string invoiceId, AccountApi a, CancellationToken ct) =>
            await WithInvoice(accountId, invoiceId, a, ct, i => Results.Ok(i))).WithName("GetInvoice");
        account.MapGet("/invoices/{invoiceId}/pdf", async (string accountId, string invoiceId, AccountApi a, CancellationToken ct) =>
            await WithInvoice(accountId, invoiceId, a, ct, i =>
                Results.File(InvoiceDocuments.Pdf(i, accountId), "application/pdf", $"{i.Number}.pdf"))).WithName("GetInvoicePdf");
        account.MapGet("/invoices/{invoiceId}/html", async (string accountId, string invoiceId, AccountApi a, CancellationToken ct) =>
            await WithInvoice(accountId, invoiceId, a, ct, i =>
                Results.Content(InvoiceDocuments.Html(i, accountId), "text/html; charset=utf-8"))).WithName("GetInvoiceHtml");
        account.MapGet("/preferences", GetPreferences).WithName("GetPreferences");
        account.MapPut("/preferences", PutPreferences).WithName("PutPreferences");
        account.MapGet("/notifications", (string accountId, BillingListsReadModel lists, CancellationToken ct, int page = 1, int pageSize = 50, DateTimeOffset? from = null, DateTimeOffset? to = null) =>
                PageAsync<Notification>(lists, accountId, BillingListsProjection.Kinds.Notification, page, pageSize, from, to, ct))
            .WithName("ListNotifications").WithSummary("What the account was told and why, newest first");
        return api;
    }

    private static async Task<IResult> WithInvoice(string accountId, string invoiceId, AccountApi api, CancellationToken ct, Func<Invoice, IResult> answer)
    {
        var invoices = await api.AskAsync<AccountInvoices>(new GetAccountInvoices(accountId), ct);
        return invoices.Invoices.FirstOrDefault(i => i.Id == invoiceId) is { } invoice
            ? answer(invoice)
            : AccountApi.Problem(new Refusal("not_found", $"No invoice '{invoiceId}'."));
    }

    private static async Task<IResult> GetPreferences(string accountId, AccountApi api, CancellationToken ct)
    {
        return Results.Ok((await api.AskAsync<AccountPreferences>(new GetAccountPreferences(accountId), ct)).Preferences);
    }

    private static async Task<IResult> PutPreferences(string accountId, Preferences preferences, AccountApi api, CancellationToken ct)
    {
        var errors = preferences.Validate();
        if (errors.Count > 0)
            return Results.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Invalid preferences",
                detail: string.Join(" ", errors.Select(e => $"{e.Code}: {e.Message}")),
                extensions: new Dictionary<string, object?> { ["code"] = "invalid_preferences", ["errors"] = errors.Select(e => new { field = e.Code, message = e.Message }) });
        var result = await api.AskAsync<AccountCommandResult>(new UpdateAccountPreferences(accountId, preferences), ct);
        return result.Outcome.Refusal is { } refusal ? AccountApi.Problem(refusal) : Results.Ok(preferences);
    }

    public static IResult? InvalidPage(int page, int pageSize) =>
        page < 1 || pageSize is < 1 or > 500 ? AccountApi.BadRequest("invalid_page", "page is 1 or more; pageSize is 1 to 500.") : null;
}
