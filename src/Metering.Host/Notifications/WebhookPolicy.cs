using System.Net;
using System.Net.Sockets;

namespace Metering.Host.Notifications;

/// <summary><c>Metering:Notifications:*</c>.</summary>
public sealed class WebhookOptions
{
    /// <summary>Lets webhooks reach loopback, private, link-local and metadata addresses (tests, single-host setups).</summary>
    public bool AllowPrivateWebhooks { get; set; }

    /// <summary>Lets webhooks use plain http (the signature still protects the body, not its secrecy).</summary>
    public bool AllowHttpWebhooks { get; set; }
}

/// <summary>A webhook the engine refuses to call: where it points is not allowed.</summary>
public sealed class WebhookBlockedException(string message) : Exception(message);

/// <summary>
/// Keeps webhooks from being used to reach what the engine can reach and the account cannot (SSRF):
/// https only, and no loopback, private (RFC 1918, ULA), link-local (cloud metadata at
/// 169.254.169.254), carrier-grade NAT, multicast or reserved addresses, unless configured. Checked
/// when preferences are saved, and again on every call against the very address the socket connects
/// to, after DNS resolution, so a name that later resolves elsewhere (DNS rebinding) is refused too.
/// </summary>
public sealed class WebhookPolicy(WebhookOptions options)
{
    private static readonly IPNetwork[] Blocked =
    [
        .. new[]
        {
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
            "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
            "::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2001:db8::/32",
        }.Select(IPNetwork.Parse),
    ];

    /// <summary>Why the URL may not be used (without looking it up), or null.</summary>
    public string? CheckUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            return "An absolute https URL.";
        if (uri.Scheme == "http" && !options.AllowHttpWebhooks)
            return "Webhooks must use https.";
        if (!string.IsNullOrEmpty(uri.UserInfo))
            return "Credentials do not belong in the URL; the signature authenticates the call.";
        if (options.AllowPrivateWebhooks) return null;
        var host = uri.IdnHost;
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase) || host.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase))
            return "The webhook may not point at this machine.";
        return IPAddress.TryParse(uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : host, out var address) && !IsAllowed(address)
            ? "The webhook may not point at a loopback, private, link-local or reserved address."
            : null;
    }

    /// <summary><see cref="CheckUrl"/>, then every address the name resolves to must be allowed.</summary>
    public async Task<string?> CheckAsync(string url, CancellationToken ct)
    {
        if (CheckUrl(url) is { } error) return error;
        if (options.AllowPrivateWebhooks) return null;
        var uri = new Uri(url);
        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6) return null;
        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(uri.IdnHost, ct);
        }
        catch (SocketException)
        {
            return $"The webhook host '{uri.IdnHost}' does not resolve.";
        }
        return addresses.All(IsAllowed) ? null : "The webhook host resolves to a loopback, private, link-local or reserved address.";
    }

    public bool IsAllowed(IPAddress address)
    {
        if (options.AllowPrivateWebhooks) return true;
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return !Blocked.Any(n => n.Contains(address));
    }

    /// <summary>
    /// The webhook client's connect step: resolves the name itself and connects only to allowed
    /// addresses, so the check and the connection can never see different answers.
    /// </summary>
    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        var endpoint = context.DnsEndPoint;
        var addresses = IPAddress.TryParse(endpoint.Host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(endpoint.Host, ct);
        var allowed = addresses.Where(IsAllowed).ToArray();
        if (allowed.Length == 0)
            throw new WebhookBlockedException($"webhook host {endpoint.Host} resolves only to addresses webhooks may not reach");
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, endpoint.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
