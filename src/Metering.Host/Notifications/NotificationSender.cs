using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Metering.Accounts;
using Metering.Domain.Accounts;
using Metering.Domain.Notifications;
using Metering.Host.Auth;
using Metering.Ingestion.Kafka;

namespace Metering.Host.Notifications;

/// <summary>
/// Produces every notification to the notifications topic (key = account id) and POSTs it to the
/// account's webhook when it chose one, signed so the receiver can check it came from us:
/// <c>Metering-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256(secret, "&lt;t&gt;.&lt;body&gt;")&gt;</c>.
/// Webhook calls are retried with backoff on network errors and 5xx answers; a URL that
/// <see cref="WebhookPolicy"/> refuses (checked again here, and on the connected address) is not called.
/// Each channel's outcome is counted (<c>metering.notifications.delivered</c> / <c>failed</c>) as it
/// happens, so a resend after a crash counts again: the counters say what reached the channels.
/// </summary>
public sealed class NotificationSender(
    MeteringProducer producer, KafkaOptions kafka, HttpClient http, WebhookPolicy policy, SecretBox secrets, TimeProvider time,
    AccountTelemetry telemetry, ILogger<NotificationSender> log)
    : INotificationSink
{
    public const string SignatureHeader = "Metering-Signature";
    public const string IdHeader = "Metering-Notification-Id";
    private static readonly TimeSpan[] Backoff = [TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(4)];

    public async Task<string?> DeliverAsync(string accountId, Notification notification, NotificationSettings settings, CancellationToken ct)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            notification.Id,
            AccountId = accountId,
            notification.Type,
            notification.Cause,
            notification.Message,
            notification.At,
            notification.Data,
        }, JsonSerializerOptions.Web);

        try
        {
            await producer.ProduceAsync(kafka.NotificationsTopic, accountId, body, ct: ct);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            // The account sends it again later; the failure is counted and handled there.
            telemetry.NotificationFailed("kafka", notification.Type);
            throw;
        }
        telemetry.NotificationDelivered("kafka", notification.Type);
        if (!settings.Channels.Contains("webhook") || settings.WebhookUrl is null || settings.WebhookSecret is null) return null;
        // Saved under an earlier, looser configuration, perhaps.
        var failure = policy.CheckUrl(settings.WebhookUrl) is { } refused ? $"webhook refused: {refused}"
            : secrets.Open(settings.WebhookSecret) is not { } secret ? "webhook secret cannot be opened: was Metering:Secrets:Key changed?"
            : await PostAsync(new Uri(settings.WebhookUrl), secret, notification.Id, body, ct);
        if (failure is null) telemetry.NotificationDelivered("webhook", notification.Type);
        else telemetry.NotificationFailed("webhook", notification.Type);
        return failure;
    }

    public static string Sign(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        var payload = Encoding.UTF8.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".").Concat(body.ToArray()).ToArray();
        return $"t={timestamp},v1={Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), payload))}";
    }

    private async Task<string?> PostAsync(Uri url, string secret, string id, byte[] body, CancellationToken ct)
    {
        string? failure = null;
        for (var attempt = 0; attempt <= Backoff.Length; attempt++)
        {
            if (attempt > 0) await Task.Delay(Backoff[attempt - 1], time, ct);
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.Add(IdHeader, id);
            request.Headers.Add(SignatureHeader, Sign(secret, time.GetUtcNow().ToUnixTimeSeconds(), body));
            try
            {
                using var response = await http.SendAsync(request, ct);
                if (response.IsSuccessStatusCode) return null;
                failure = $"webhook answered {(int)response.StatusCode}";
                if ((int)response.StatusCode < 500) break;
            }
            catch (HttpRequestException e) when (e.InnerException is WebhookBlockedException blocked)
            {
                failure = $"webhook refused: {blocked.Message}";
                break;
            }
            catch (HttpRequestException e)
            {
                failure = $"webhook unreachable: {e.Message}";
            }
            log.LogWarning("Notification {NotificationId} to webhook: {Failure} (attempt {Attempt})", id, failure, attempt + 1);
        }
        return failure;
    }
}
