namespace Metering.Host.Api;

/// <summary>Every <c>/api/v1</c> call carries <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
public sealed class ApiKeyFilter(AdminKey adminKey) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var header = context.HttpContext.Request.Headers.Authorization.ToString();
        const string scheme = "Bearer ";
        var presented = header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase) ? header[scheme.Length..].Trim() : null;
        if (adminKey.Matches(presented)) return next(context);

        context.HttpContext.Response.Headers.WWWAuthenticate = "Bearer";
        return ValueTask.FromResult<object?>(Results.Problem(
            statusCode: StatusCodes.Status401Unauthorized,
            title: "Missing or invalid API key",
            detail: "Send 'Authorization: Bearer <key>'. The admin key is printed at start and kept in the data folder."));
    }
}
