using Metering.Domain.Notifications;
using Metering.Domain.Payments;

namespace Metering.Accounts;

/// <summary>What an account actor talks to outside itself: the clock, card payments, notification channels, telemetry.</summary>
public sealed record AccountServices(TimeProvider Time, IPaymentGateway Gateway, INotificationSink Notifications, AccountTelemetry Telemetry);
