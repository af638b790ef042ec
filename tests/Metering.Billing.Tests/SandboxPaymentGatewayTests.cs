using System.Text;
using Metering.Billing.Payments;
using Metering.Domain.Payments;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace Metering.Billing.Tests;

public sealed class SandboxPaymentGatewayTests : IDisposable
{
    private const string Cvc = "987";
    private static readonly CancellationToken Ct = CancellationToken.None;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "metering-sandbox-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 15, 10, 0, 0, TimeSpan.Zero));
    private readonly List<SandboxPaymentGateway> _gateways = [];

    private string DbPath => Path.Combine(_dir, SandboxPaymentGateway.DefaultFileName);

    private SandboxPaymentGateway NewGateway()
    {
        var gateway = new SandboxPaymentGateway(DbPath, _time);
        _gateways.Add(gateway);
        return gateway;
    }

    public void Dispose()
    {
        foreach (var gateway in _gateways) gateway.Dispose();
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static CardDetails Card(string number, string cvc = Cvc, int expMonth = 12, int expYear = 2030) =>
        new(number, expMonth, expYear, cvc, "Ada Lovelace");

    private static async Task<PaymentCard> Tokenize(SandboxPaymentGateway gateway, string number, string cvc = Cvc)
    {
        var result = await gateway.TokenizeAsync(Card(number, cvc), Ct);
        Assert.True(result.Succeeded, result.Error?.ToString());
        return result.Card;
    }

    [Fact]
    public async Task Tokenize_returns_safe_fields_and_a_token()
    {
        var gateway = NewGateway();
        var result = await gateway.TokenizeAsync(new CardDetails("4242 4242 4242 4242", 7, 2031, Cvc, "  Ada Lovelace "), Ct);

        Assert.True(result.Succeeded);
        Assert.Null(result.Error);
        var card = result.Card;
        Assert.Matches("^tok_[0-9a-f]{24}$", card.Token);
        Assert.Equal(new PaymentCard(card.Token, "visa", CardFunding.Credit, "4242", 7, 2031, "Ada Lovelace"), card);
        // The token is random hex and may hold the CVC's digits by chance (it did: "…add987e41").
        var answered = result.ToString().Replace(card.Token, "tok_", StringComparison.Ordinal);
        Assert.DoesNotContain("4242424242424242", answered);
        Assert.DoesNotContain(Cvc, answered);
    }

    [Fact]
    public async Task Each_tokenization_gets_a_new_token()
    {
        var gateway = NewGateway();
        var a = await Tokenize(gateway, SandboxTestCards.Succeeds);
        var b = await Tokenize(gateway, SandboxTestCards.Succeeds);
        Assert.NotEqual(a.Token, b.Token);
    }

    [Theory]
    [InlineData("4242424242424241", 12, 2030, Cvc, "number", "invalid_number")]
    [InlineData("1234567890123452", 12, 2030, Cvc, "number", "unsupported_brand")]
    [InlineData("4242424242424242", 13, 2030, Cvc, "exp_month", "invalid_expiry")]
    [InlineData("4242424242424242", 2, 2026, Cvc, "exp_year", "expired")]
    [InlineData("4242424242424242", 12, 2030, "98", "cvc", "invalid_cvc")]
    public async Task Tokenize_fails_with_the_validation_code(string number, int month, int year, string cvc, string field, string code)
    {
        var gateway = NewGateway();
        var result = await gateway.TokenizeAsync(new CardDetails(number, month, year, cvc, "Ada"), Ct);

        Assert.False(result.Succeeded);
        Assert.Null(result.Card);
        Assert.Equal(code, result.Error.Code);
        Assert.Equal(field, result.Error.Field);
        Assert.DoesNotContain(number, result.ToString());
    }

    [Fact]
    public async Task Tokenize_fails_for_a_missing_holder_name()
    {
        var result = await NewGateway().TokenizeAsync(new CardDetails(SandboxTestCards.Succeeds, 12, 2030, Cvc, " "), Ct);
        Assert.Equal("invalid_holder", result.Error?.Code);
    }

    [Fact]
    public async Task Tokenize_uses_today_from_the_time_provider()
    {
        var gateway = NewGateway();
        var card = new CardDetails(SandboxTestCards.Succeeds, 3, 2026, Cvc, "Ada");
        Assert.True((await gateway.TokenizeAsync(card, Ct)).Succeeded);

        _time.SetUtcNow(new DateTimeOffset(2026, 3, 31, 23, 59, 59, TimeSpan.Zero));
        Assert.True((await gateway.TokenizeAsync(card, Ct)).Succeeded);

        _time.SetUtcNow(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero));
        Assert.Equal("expired", (await gateway.TokenizeAsync(card, Ct)).Error?.Code);
    }

    [Theory]
    [InlineData("4242424242424242", null)]
    [InlineData("4000000000000002", "card_declined")]
    [InlineData("4000000000009995", "insufficient_funds")]
    [InlineData("4000000000000069", "expired_card")]
    [InlineData("5555555555554444", null)]
    [InlineData("378282246310005", null)]
    [InlineData("6011111111111117", null)]
    [InlineData("4000056655665556", null)]
    [InlineData("5200828282828210", null)]
    public async Task Charges_answer_by_test_card(string number, string? failureCode)
    {
        var gateway = NewGateway();
        var card = await Tokenize(gateway, number, number.StartsWith('3') ? "7391" : Cvc);

        var result = await gateway.ChargeAsync("key-1", card.Token, 12.34m, "usd", Ct);

        Assert.Equal("key-1", result.IdempotencyKey);
        Assert.Equal(12.34m, result.Amount);
        Assert.Equal("USD", result.Currency);
        if (failureCode is null)
        {
            Assert.True(result.Succeeded);
            Assert.Matches("^ch_[0-9a-f]{24}$", result.ChargeId);
            Assert.Null(result.FailureCode);
            Assert.Null(result.FailureMessage);
            Assert.Equal(1, gateway.SucceededChargeCount(card.Token));
        }
        else
        {
            Assert.False(result.Succeeded);
            Assert.Null(result.ChargeId);
            Assert.Equal(failureCode, result.FailureCode);
            Assert.False(string.IsNullOrWhiteSpace(result.FailureMessage));
            Assert.Equal(0, gateway.SucceededChargeCount(card.Token));
        }
    }

    [Theory]
    [InlineData("4000056655665556", "visa", CardFunding.Debit)]
    [InlineData("5200828282828210", "mastercard", CardFunding.Debit)]
    [InlineData("4242424242424242", "visa", CardFunding.Credit)]
    [InlineData("5555555555554444", "mastercard", CardFunding.Credit)]
    public async Task Funding_by_test_card(string number, string brand, CardFunding funding)
    {
        var card = await Tokenize(NewGateway(), number);
        Assert.Equal(brand, card.Brand);
        Assert.Equal(funding, card.Funding);
        Assert.Equal(number[^4..], card.Last4);
    }

    [Fact]
    public async Task Same_key_twice_charges_once_and_returns_the_first_result()
    {
        var gateway = NewGateway();
        var card = await Tokenize(gateway, SandboxTestCards.Succeeds);

        var first = await gateway.ChargeAsync("topup-1", card.Token, 50m, "USD", Ct);
        var second = await gateway.ChargeAsync("topup-1", card.Token, 50m, "USD", Ct);
        // Even with other arguments, the key answers with the first result.
        var third = await gateway.ChargeAsync("topup-1", card.Token, 75m, "EUR", Ct);

        Assert.True(first.Succeeded);
        Assert.Equal(first, second);
        Assert.Equal(first, third);
        Assert.Equal(1, gateway.SucceededChargeCount());
        Assert.Equal(1, gateway.SucceededChargeCount(card.Token));
    }

    [Fact]
    public async Task Same_key_after_a_restart_charges_once_and_returns_the_first_result()
    {
        var before = NewGateway();
        var card = await Tokenize(before, SandboxTestCards.Succeeds);
        var first = await before.ChargeAsync("topup-1", card.Token, 50m, "USD", Ct);
        before.Dispose();
        SqliteConnection.ClearAllPools();

        var after = NewGateway();
        var again = await after.ChargeAsync("topup-1", card.Token, 50m, "USD", Ct);

        Assert.Equal(first, again);
        Assert.Equal(first, await after.FindChargeAsync("topup-1", Ct));
        Assert.Equal(1, after.SucceededChargeCount(card.Token));

        // The token survived the restart too.
        var other = await after.ChargeAsync("topup-2", card.Token, 5m, "USD", Ct);
        Assert.True(other.Succeeded);
        Assert.Equal(2, after.SucceededChargeCount(card.Token));
    }

    [Fact]
    public async Task A_declined_charge_is_remembered_under_its_key_too()
    {
        var before = NewGateway();
        var card = await Tokenize(before, SandboxTestCards.Declined);
        var first = await before.ChargeAsync("k", card.Token, 10m, "USD", Ct);
        before.Dispose();

        var after = NewGateway();
        Assert.Equal(first, await after.ChargeAsync("k", card.Token, 10m, "USD", Ct));
        Assert.Equal("card_declined", (await after.FindChargeAsync("k", Ct))?.FailureCode);
    }

    [Fact]
    public async Task Two_gateways_on_one_file_share_keys()
    {
        var a = NewGateway();
        var b = NewGateway();
        var card = await Tokenize(a, SandboxTestCards.Succeeds);

        var first = await a.ChargeAsync("k", card.Token, 10m, "USD", Ct);
        Assert.Equal(first, await b.ChargeAsync("k", card.Token, 10m, "USD", Ct));
        Assert.Equal(1, b.SucceededChargeCount());
    }

    [Fact]
    public async Task Concurrent_calls_with_one_key_charge_once()
    {
        var a = NewGateway();
        var b = NewGateway();
        var card = await Tokenize(a, SandboxTestCards.Succeeds);

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(i =>
            Task.Run(() => (i % 2 == 0 ? a : b).ChargeAsync("same", card.Token, 10m, "USD", Ct))));

        Assert.Single(results.Distinct());
        Assert.Equal(1, a.SucceededChargeCount());
    }

    [Fact]
    public async Task Different_keys_charge_again()
    {
        var gateway = NewGateway();
        var card = await Tokenize(gateway, SandboxTestCards.Succeeds);
        var other = await Tokenize(gateway, SandboxTestCards.VisaDebit);

        var one = await gateway.ChargeAsync("k1", card.Token, 10m, "USD", Ct);
        var two = await gateway.ChargeAsync("k2", card.Token, 10m, "USD", Ct);
        await gateway.ChargeAsync("k3", other.Token, 10m, "USD", Ct);

        Assert.True(one.Succeeded && two.Succeeded);
        Assert.NotEqual(one.ChargeId, two.ChargeId);
        Assert.Equal(2, gateway.SucceededChargeCount(card.Token));
        Assert.Equal(1, gateway.SucceededChargeCount(other.Token));
        Assert.Equal(3, gateway.SucceededChargeCount());
    }

    [Fact]
    public async Task FindCharge_by_key()
    {
        var gateway = NewGateway();
        var card = await Tokenize(gateway, SandboxTestCards.Succeeds);

        Assert.Null(await gateway.FindChargeAsync("k", Ct));
        var charged = await gateway.ChargeAsync("k", card.Token, 19.99m, "USD", Ct);
        var found = await gateway.FindChargeAsync("k", Ct);

        Assert.Equal(charged, found);
        Assert.Equal(19.99m, found!.Amount);
        Assert.Null(await gateway.FindChargeAsync("other", Ct));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("0.001")]
    [InlineData("10.005")]
    public async Task Invalid_amounts_fail_and_are_not_recorded(string amountText)
    {
        var amount = decimal.Parse(amountText, System.Globalization.CultureInfo.InvariantCulture);
        var gateway = NewGateway();
        var card = await Tokenize(gateway, SandboxTestCards.Succeeds);

        var result = await gateway.ChargeAsync("k", card.Token, amount, "USD", Ct);

        Assert.False(result.Succeeded);
        Assert.Equal("invalid_amount", result.FailureCode);
        Assert.Null(result.ChargeId);
        Assert.Null(await gateway.FindChargeAsync("k", Ct));
        Assert.Equal(0, gateway.SucceededChargeCount());

        // Nothing reached the card, so the key is still free for the corrected request.
        Assert.True((await gateway.ChargeAsync("k", card.Token, 10m, "USD", Ct)).Succeeded);
    }

    [Fact]
    public async Task Amounts_keep_their_value_with_trailing_zeros()
    {
        var gateway = NewGateway();
        var card = await Tokenize(gateway, SandboxTestCards.Succeeds);
        var result = await gateway.ChargeAsync("k", card.Token, 10.500m, "USD", Ct);
        Assert.True(result.Succeeded);
        Assert.Equal(10.5m, (await gateway.FindChargeAsync("k", Ct))!.Amount);
    }

    [Fact]
    public async Task Unknown_token_and_bad_currency_fail_without_charging()
    {
        var gateway = NewGateway();
        var card = await Tokenize(gateway, SandboxTestCards.Succeeds);

        Assert.Equal("invalid_token", (await gateway.ChargeAsync("k", "tok_nope", 10m, "USD", Ct)).FailureCode);
        Assert.Equal("invalid_currency", (await gateway.ChargeAsync("k", card.Token, 10m, "US", Ct)).FailureCode);
        Assert.Equal("invalid_currency", (await gateway.ChargeAsync("k", card.Token, 10m, "U$D", Ct)).FailureCode);
        Assert.Null(await gateway.FindChargeAsync("k", Ct));
        Assert.Equal(0, gateway.SucceededChargeCount());
    }

    [Fact]
    public async Task A_token_whose_card_expired_since_tokenization_is_declined_as_expired()
    {
        var gateway = NewGateway();
        var result = await gateway.TokenizeAsync(new CardDetails(SandboxTestCards.Succeeds, 4, 2026, Cvc, "Ada"), Ct);
        var token = result.Card!.Token;
        Assert.True((await gateway.ChargeAsync("march", token, 1m, "USD", Ct)).Succeeded);

        _time.SetUtcNow(new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero));
        var may = await gateway.ChargeAsync("may", token, 1m, "USD", Ct);
        Assert.Equal("expired_card", may.FailureCode);
    }

    [Fact]
    public async Task Empty_or_oversized_idempotency_keys_are_refused()
    {
        var gateway = NewGateway();
        var card = await Tokenize(gateway, SandboxTestCards.Succeeds);
        await Assert.ThrowsAnyAsync<ArgumentException>(() => gateway.ChargeAsync("", card.Token, 1m, "USD", Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => gateway.ChargeAsync(" ", card.Token, 1m, "USD", Ct));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => gateway.ChargeAsync(new string('k', 256), card.Token, 1m, "USD", Ct));
        Assert.True((await gateway.ChargeAsync(new string('k', 255), card.Token, 1m, "USD", Ct)).Succeeded);
    }

    [Fact]
    public async Task Calls_after_dispose_throw()
    {
        var gateway = NewGateway();
        gateway.Dispose();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => gateway.FindChargeAsync("k", Ct));
    }

    [Fact]
    public async Task Database_is_in_wal_mode()
    {
        NewGateway();
        await using var connection = new SqliteConnection($"Data Source={DbPath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task The_file_never_contains_card_numbers_or_cvcs()
    {
        string[] numbers =
        [
            SandboxTestCards.Succeeds, SandboxTestCards.Declined, SandboxTestCards.InsufficientFunds,
            SandboxTestCards.ExpiredCard, SandboxTestCards.VisaDebit, SandboxTestCards.MastercardDebit,
        ];
        const string amexNumber = "378282246310005";
        const string amexCvc = "7391";

        var gateway = NewGateway();
        var known = new List<string>(); // tokens and charge ids are random hex and could contain a CVC by chance
        foreach (var number in numbers)
        {
            var card = await Tokenize(gateway, number);
            known.Add(card.Token);
            var charge = await gateway.ChargeAsync("key-" + number[^4..], card.Token, 10m, "USD", Ct);
            if (charge.ChargeId is not null) known.Add(charge.ChargeId);
        }
        var spaced = await gateway.TokenizeAsync(Card("4242 4242 4242 4242"), Ct);
        known.Add(spaced.Card!.Token);
        var amex = await Tokenize(gateway, amexNumber, amexCvc);
        known.Add(amex.Token);
        known.Add((await gateway.ChargeAsync("key-amex", amex.Token, 10m, "USD", Ct)).ChargeId!);
        // Invalid cards are not stored either.
        await gateway.TokenizeAsync(Card("4242424242424241"), Ct);

        // Look at the live files first (the WAL holds the recent writes), then after closing (checkpointed).
        AssertFilesClean(numbers.Append(amexNumber).Append("4242424242424241"), [Cvc, amexCvc], known);
        gateway.Dispose();
        SqliteConnection.ClearAllPools();
        AssertFilesClean(numbers.Append(amexNumber).Append("4242424242424241"), [Cvc, amexCvc], known);

        // And the data really is there: the safe fields are found.
        Assert.Contains("Ada Lovelace", ReadAll());
    }

    private void AssertFilesClean(IEnumerable<string> numbers, string[] cvcs, IReadOnlyList<string> known)
    {
        var text = ReadAll();
        Assert.Contains(known[0], text); // sanity: we are reading the right bytes
        foreach (var k in known) text = text.Replace(k, "");
        foreach (var number in numbers)
        {
            Assert.DoesNotContain(number, text);
            Assert.DoesNotContain(number[..^4], text); // not even all but the last 4
            Assert.DoesNotContain(Reverse(number), text);
            Assert.DoesNotContain(Utf16(number), text);
        }
        foreach (var cvc in cvcs) Assert.DoesNotContain(cvc, text);
    }

    /// <summary>The database file and, when present, its WAL and shared-memory files, as Latin-1 text.</summary>
    private string ReadAll()
    {
        var text = new StringBuilder();
        foreach (var path in new[] { DbPath, DbPath + "-wal", DbPath + "-shm", DbPath + "-journal" })
        {
            if (!File.Exists(path)) continue;
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream, Encoding.Latin1);
            text.Append(reader.ReadToEnd()).Append('\n');
        }
        return text.ToString();
    }

    private static string Reverse(string s) => new(s.Reverse().ToArray());

    private static string Utf16(string s) => Encoding.Latin1.GetString(Encoding.Unicode.GetBytes(s));
}
