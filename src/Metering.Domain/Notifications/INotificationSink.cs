using Metering.Domain.Accounts;

namespace Metering.Domain.Notifications;

/// <summary>Where an account's notifications go out: the notifications topic and the account's webhook.</summary>
public interface INotificationSink
{
    /// <summary>
    /// Sends one notification to every channel the account chose. Returns null when every channel
    /// took it, else why one did not (after its own retries); the account records the outcome and
    /// never sends the same notification twice.
    /// </summary>
    Task<string?> DeliverAsync(string accountId, Notification notification, NotificationSettings settings, CancellationToken ct);
}
