using System.Text;

namespace Metering.LoadGen;

/// <summary>
/// A CRM's usage as it arrives in production: leads one at a time, calls with their durations, and
/// emails in bursts (a campaign sends many for one account back to back). Deterministic for a seed,
/// so two runs load the engine the same way.
/// </summary>
public sealed class UsageMix(int accounts, int seed, string idPrefix)
{
    private readonly Random _random = new(seed);
    private long _sequence;
    private int _burstLeft;
    private string _burstAccount = "";

    public static string AccountId(int index) => $"acct-{index:00000}";

    /// <summary>The next event: its Kafka key (the account) and its CloudEvents JSON.</summary>
    public (string Key, byte[] Value) Next(DateTimeOffset now)
    {
        var id = $"{idPrefix}-{_sequence++}";
        if (_burstLeft > 0)
        {
            _burstLeft--;
            return (_burstAccount, Event(id, "crm.email.sent", _burstAccount, now, 1, null));
        }
        var account = AccountId(_random.Next(accounts));
        var roll = _random.Next(100);
        if (roll < 40)
            return (account, Event(id, "crm.lead.created", account, now, 1, null));
        if (roll < 80)
            return (account, Event(id, "crm.call.completed", account, now, 1, _random.Next(5, 1_800)));
        // A burst of 2 to 20 emails for one account, this one included.
        _burstAccount = account;
        _burstLeft = _random.Next(1, 20);
        return (account, Event(id, "crm.email.sent", account, now, 1, null));
    }

    private static byte[] Event(string id, string type, string subject, DateTimeOffset time, int quantity, int? durationSeconds)
    {
        var data = durationSeconds is { } seconds
            ? $$"""{"quantity":{{quantity}},"durationSeconds":{{seconds}},"user":"u-{{seconds % 7}}"}"""
            : $$"""{"quantity":{{quantity}}}""";
        return Encoding.UTF8.GetBytes(
            $$"""{"specversion":"1.0","id":"{{id}}","source":"crm/loadgen","type":"{{type}}","subject":"{{subject}}","time":"{{time.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}}","datacontenttype":"application/json","data":{{data}}}""");
    }
}
