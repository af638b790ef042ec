using System.Globalization;
using System.Text.Unicode;

namespace Metering.LoadGen;

/// <summary>
/// A CRM's usage as it arrives in production: leads one at a time, calls with their durations, and
/// emails in bursts (a campaign sends many for one account back to back). Deterministic for a seed,
/// so two runs load the engine the same way.
/// </summary>
/// <remarks>
/// The benchmark produces in the engine's process, so what this allocates the engine's collector
/// pays for: each event is written as UTF-8 straight into one buffer and copied out once, and the
/// account ids are made once. Composed as a string first (with full delivery reports, see
/// <see cref="LoadProducer"/>) it cost about 600 of the 4,600 bytes the process allocated per event
/// at 20,000 events/s (docs/benchmarks.md, session 21).
/// </remarks>
public sealed class UsageMix(int accounts, int seed, string idPrefix)
{
    private readonly Random _random = new(seed);
    private readonly string?[] _accountIds = new string?[accounts];
    private readonly byte[] _buffer = new byte[1024];
    private long _sequence;
    private int _burstLeft;
    private int _burstAccount;

    public static string AccountId(int index) => $"acct-{index:00000}";

    /// <summary>The next event: its Kafka key (the account) and its CloudEvents JSON.</summary>
    public (string Key, byte[] Value) Next(DateTimeOffset now)
    {
        var sequence = _sequence++;
        if (_burstLeft > 0)
        {
            _burstLeft--;
            return Event(sequence, "crm.email.sent", _burstAccount, now, null);
        }
        var account = _random.Next(accounts);
        var roll = _random.Next(100);
        if (roll < 40)
            return Event(sequence, "crm.lead.created", account, now, null);
        if (roll < 80)
            return Event(sequence, "crm.call.completed", account, now, _random.Next(5, 1_800));
        // A burst of 2 to 20 emails for one account, this one included.
        _burstAccount = account;
        _burstLeft = _random.Next(1, 20);
        return Event(sequence, "crm.email.sent", account, now, null);
    }

    private (string Key, byte[] Value) Event(long sequence, string type, int account, DateTimeOffset time, int? durationSeconds)
    {
        var subject = _accountIds[account] ??= AccountId(account);
        var at = time.UtcDateTime;
        // The envelope, then the data, which is all that differs between the kinds of events.
        var written = Utf8.TryWrite(_buffer, CultureInfo.InvariantCulture,
            $$$"""{"specversion":"1.0","id":"{{{idPrefix}}}-{{{sequence}}}","source":"crm/loadgen","type":"{{{type}}}","subject":"{{{subject}}}","time":"{{{at:yyyy-MM-ddTHH:mm:ss.fffZ}}}","datacontenttype":"application/json","data":""",
            out var envelope);
        int data;
        written &= durationSeconds is { } seconds
            ? Utf8.TryWrite(_buffer.AsSpan(envelope), CultureInfo.InvariantCulture, $$$"""{"quantity":1,"durationSeconds":{{{seconds}}},"user":"u-{{{seconds % 7}}}"}}""", out data)
            : Utf8.TryWrite(_buffer.AsSpan(envelope), CultureInfo.InvariantCulture, $$$"""{"quantity":1}}""", out data);
        var length = envelope + data;
        if (!written) throw new InvalidOperationException($"An event of {idPrefix} did not fit in {_buffer.Length} bytes.");
        return (subject, _buffer.AsSpan(0, length).ToArray());
    }
}
