using Akka.Persistence.Journal;
using Metering.Domain.Accounts;

namespace Metering.Accounts.Persistence;

/// <summary>
/// Tags account events so projections can read them by tag (TagTable mode, indexed): every account
/// event is tagged <see cref="AccountTag"/> (the billing lists fold them all), usage batches also
/// <see cref="UsageTag"/> (the usage series read only those).
/// </summary>
public sealed class UsageTagger : IWriteEventAdapter
{
    public const string UsageTag = "usage";
    public const string AccountTag = "account";

    private static readonly string[] UsageTags = [UsageTag, AccountTag];
    private static readonly string[] AccountTags = [AccountTag];

    public string Manifest(object evt) => string.Empty;

    public object ToJournal(object evt) => evt switch
    {
        UsageRecorded => new Tagged(evt, UsageTags),
        IAccountEvent => new Tagged(evt, AccountTags),
        _ => evt,
    };
}
