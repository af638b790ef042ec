using Akka.Persistence.Journal;
using Metering.Domain.Accounts;

namespace Metering.Accounts.Persistence;

/// <summary>Tags account events so projections can read them by tag (TagTable mode, indexed).</summary>
public sealed class UsageTagger : IWriteEventAdapter
{
    public const string UsageTag = "usage";

    public string Manifest(object evt) => string.Empty;

    public object ToJournal(object evt) => evt switch
    {
        UsageRecorded => new Tagged(evt, [UsageTag]),
        _ => evt,
    };
}
