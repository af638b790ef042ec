using System.Globalization;
using System.Text;
using CsCheck;
using Metering.Ingestion.CloudEvents;

namespace Metering.Ingestion.Tests.CloudEvents;

public class Rfc3339Tests
{
    /// <summary>What the parser took before the fast path, and still takes for every other shape.</summary>
    private static bool General(string text, out DateTimeOffset value) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value);

    private static readonly Gen<string> Timestamps = Gen.Select(
        Gen.Long[new DateTime(2, 1, 1).Ticks, new DateTime(9998, 12, 31).Ticks],
        Gen.Int[0, 7],
        Gen.Int[-14 * 60, 14 * 60],
        Gen.Int[0, 3],
        (ticks, digits, offsetMinutes, style) =>
        {
            var at = new DateTime(ticks);
            var fraction = digits == 0 ? "" : "." + (at.Ticks % TimeSpan.TicksPerSecond).ToString("0000000", CultureInfo.InvariantCulture)[..digits];
            var zone = style == 0 ? "Z" : style == 1 ? "z"
                : (offsetMinutes < 0 ? "-" : "+") + TimeSpan.FromMinutes(Math.Abs(offsetMinutes)).ToString(@"hh\:mm", CultureInfo.InvariantCulture);
            var separator = style == 3 ? "t" : "T";
            return at.ToString($"yyyy-MM-dd'{separator}'HH:mm:ss", CultureInfo.InvariantCulture) + fraction + zone;
        });

    [Fact]
    public void Reads_every_RFC_3339_timestamp_as_the_general_parser_does()
    {
        Timestamps.Sample(text =>
        {
            Assert.True(Rfc3339.TryParse(Encoding.UTF8.GetBytes(text), out var fast), text);
            Assert.True(General(text, out var general), text);
            Assert.Equal(general, fast);
            Assert.Equal(general.Offset, fast.Offset);
        }, iter: 20_000);
    }

    [Fact]
    public void Whatever_it_reads_from_a_garbled_timestamp_the_general_parser_reads_the_same()
    {
        const string alphabet = "0123456789-:.TtZz+ x";
        Gen.Select(Timestamps, Gen.Int[0, 40], Gen.Int[0, alphabet.Length - 1], Gen.Int[0, 2], (text, at, c, edit) =>
        {
            var i = at % (text.Length + 1);
            return edit switch
            {
                0 => text.Remove(Math.Min(i, text.Length - 1), 1),
                1 => text.Insert(i, alphabet[c].ToString()),
                _ => text[..Math.Min(i, text.Length - 1)] + alphabet[c] + text[(Math.Min(i, text.Length - 1) + 1)..],
            };
        }).Sample(text =>
        {
            if (!Rfc3339.TryParse(Encoding.UTF8.GetBytes(text), out var fast)) return;
            Assert.True(General(text, out var general), text);
            Assert.Equal(general, fast);
            Assert.Equal(general.Offset, fast.Offset);
        }, iter: 50_000);
    }

    [Theory]
    [InlineData("2026-02-30T00:00:00Z")] // no such day
    [InlineData("2026-11-27T24:00:00Z")]
    [InlineData("2026-11-27T10:00:60Z")] // a leap second is the general parser's to judge
    [InlineData("2026-11-27T10:00:00.12345678Z")] // more digits than a tick: the general parser rounds
    [InlineData("2026-11-27T10:00:00+15:00")]
    [InlineData("2026-11-27T10:00:00")] // no zone: the general parser assumes UTC
    [InlineData("2026-11-27T10:00:00.Z")]
    [InlineData("0001-01-01T00:00:00+01:00")] // before the first instant
    [InlineData("2026-11-27")]
    public void Leaves_other_shapes_to_the_general_parser(string text) =>
        Assert.False(Rfc3339.TryParse(Encoding.UTF8.GetBytes(text), out _));
}
