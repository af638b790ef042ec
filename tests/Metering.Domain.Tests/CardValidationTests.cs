using Metering.Domain.Payments;

namespace Metering.Domain.Tests;

public class CardValidationTests
{
    private static readonly DateOnly Today = new(2026, 3, 15);

    private static CardDetails Valid(string number = "4242424242424242", int expMonth = 12, int expYear = 2030, string cvc = "123", string holder = "Ada Lovelace") =>
        new(number, expMonth, expYear, cvc, holder);

    private static IReadOnlyList<string> Codes(CardDetails card, DateOnly? today = null) =>
        CardValidation.Validate(card, today ?? Today).Select(e => e.Code).ToList();

    [Theory]
    [InlineData("4242424242424242")]
    [InlineData("4242 4242 4242 4242")]
    [InlineData("4242-4242-4242-4242")]
    [InlineData("5555555555554444")]
    [InlineData("2223003122003222")]
    [InlineData("6011111111111117")]
    [InlineData("4000056655665556")]
    public void Valid_cards_have_no_errors(string number) =>
        Assert.Empty(CardValidation.Validate(Valid(number), Today));

    [Fact]
    public void Amex_needs_a_four_digit_cvc()
    {
        Assert.Empty(CardValidation.Validate(Valid("378282246310005", cvc: "1234"), Today));
        var error = Assert.Single(CardValidation.Validate(Valid("378282246310005", cvc: "123"), Today));
        Assert.Equal(new CardError("cvc", "invalid_cvc", error.Message), error);
    }

    [Theory]
    [InlineData("12")]
    [InlineData("1234")]
    [InlineData("12a")]
    [InlineData("")]
    [InlineData(" 123")]
    public void Non_amex_needs_a_three_digit_cvc(string cvc) =>
        Assert.Equal(["invalid_cvc"], Codes(Valid(cvc: cvc)));

    [Theory]
    [InlineData("")]
    [InlineData("4242x424242424242")]
    [InlineData("4242.4242.4242.4242")]
    [InlineData("42424242424")] // 11 digits
    [InlineData("42424242424242424242")] // 20 digits
    [InlineData("4242424242424241")] // Luhn fails
    [InlineData("４２４２４２４２４２４２４２４２")] // full-width digits are not ASCII digits
    public void Invalid_numbers(string number) =>
        Assert.Equal(["invalid_number"], Codes(Valid(number)));

    [Fact]
    public void Null_number_is_invalid_not_a_crash() =>
        Assert.Equal(["invalid_number"], Codes(Valid(null!)));

    [Theory]
    [InlineData("4242424242424242", true)]
    [InlineData("79927398713", true)]
    [InlineData("79927398710", false)]
    [InlineData("0", true)]
    [InlineData("", false)]
    [InlineData("12a4", false)]
    public void Luhn(string digits, bool expected) => Assert.Equal(expected, CardValidation.PassesLuhn(digits));

    [Fact]
    public void Luhn_valid_numbers_of_12_and_19_digits_are_accepted_and_of_other_lengths_refused()
    {
        // Visa numbers built with a valid check digit at every length.
        for (var length = 10; length <= 21; length++)
        {
            var number = WithCheckDigit("4" + new string('1', length - 2));
            Assert.True(CardValidation.PassesLuhn(number));
            var codes = Codes(Valid(number));
            if (length is >= 12 and <= 19) Assert.Empty(codes);
            else Assert.Equal(["invalid_number"], codes);
        }
    }

    [Fact]
    public void Unknown_brand_with_a_valid_checksum_is_unsupported()
    {
        var number = WithCheckDigit("123456789012345");
        Assert.True(CardValidation.PassesLuhn(number));
        Assert.Equal(["unsupported_brand"], Codes(Valid(number)));
    }

    [Theory]
    [InlineData("4111111111111111", "visa")]
    [InlineData("4", "visa")]
    [InlineData("5100000000000000", "mastercard")]
    [InlineData("5555555555554444", "mastercard")]
    [InlineData("2221000000000000", "mastercard")]
    [InlineData("2720999999999999", "mastercard")]
    [InlineData("2220999999999999", null)]
    [InlineData("2721000000000000", null)]
    [InlineData("5000000000000000", null)]
    [InlineData("5600000000000000", null)]
    [InlineData("340000000000000", "amex")]
    [InlineData("370000000000000", "amex")]
    [InlineData("350000000000000", null)]
    [InlineData("6011000000000000", "discover")]
    [InlineData("6500000000000000", "discover")]
    [InlineData("6440000000000000", "discover")]
    [InlineData("6490000000000000", "discover")]
    [InlineData("6430000000000000", null)]
    [InlineData("6010000000000000", null)]
    [InlineData("3530111333300000", null)] // JCB
    [InlineData("", null)]
    [InlineData("abcd", null)]
    public void Brands(string digits, string? brand) => Assert.Equal(brand, CardValidation.Brand(digits));

    [Theory]
    [InlineData(0)]
    [InlineData(13)]
    [InlineData(-1)]
    public void Expiry_month_must_be_1_to_12(int month) =>
        Assert.Equal(["invalid_expiry"], Codes(Valid(expMonth: month)));

    [Fact]
    public void Card_is_valid_through_the_last_day_of_its_expiry_month()
    {
        var card = Valid(expMonth: 2, expYear: 2028);
        Assert.Empty(Codes(card, new DateOnly(2028, 2, 1)));
        Assert.Empty(Codes(card, new DateOnly(2028, 2, 29)));
        Assert.Equal(["expired"], Codes(card, new DateOnly(2028, 3, 1)));

        var december = Valid(expMonth: 12, expYear: 2026);
        Assert.Empty(Codes(december, new DateOnly(2026, 12, 31)));
        Assert.Equal(["expired"], Codes(december, new DateOnly(2027, 1, 1)));
    }

    [Fact]
    public void Earlier_years_are_expired() =>
        Assert.Equal(["expired"], Codes(Valid(expMonth: 12, expYear: 2025)));

    [Fact]
    public void Expiry_year_at_most_20_years_ahead()
    {
        Assert.Empty(Codes(Valid(expMonth: 12, expYear: 2046)));
        Assert.Equal(["invalid_expiry"], Codes(Valid(expMonth: 1, expYear: 2047)));
        Assert.Equal(["invalid_expiry"], Codes(Valid(expYear: int.MaxValue)));
        Assert.Equal(["expired"], Codes(Valid(expYear: int.MinValue)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("Ada\nLovelace")]
    public void Holder_name_required_without_control_characters(string holder) =>
        Assert.Equal(["invalid_holder"], Codes(Valid(holder: holder)));

    [Fact]
    public void Holder_name_at_most_100_characters()
    {
        Assert.Empty(Codes(Valid(holder: new string('a', 100))));
        Assert.Empty(Codes(Valid(holder: "  " + new string('a', 100) + "  ")));
        Assert.Equal(["invalid_holder"], Codes(Valid(holder: new string('a', 101))));
        Assert.Equal(["invalid_holder"], Codes(Valid(holder: null!)));
    }

    [Fact]
    public void All_errors_are_reported_in_field_order()
    {
        var errors = CardValidation.Validate(new CardDetails("4242424242424241", 13, 2030, "1", ""), Today);
        Assert.Equal(
            [("number", "invalid_number"), ("exp_month", "invalid_expiry"), ("cvc", "invalid_cvc"), ("holder_name", "invalid_holder")],
            errors.Select(e => (e.Field, e.Code)));
    }

    [Theory]
    [InlineData("4242424242424242", "987")]
    [InlineData("4242 4242 4242 4242", "987")]
    [InlineData("378282246310005", "7391")]
    [InlineData("4242424242424241", "987")] // invalid number
    [InlineData("4242", "987")] // too short: not even the last 4 are shown
    public void Error_messages_never_quote_the_number_or_the_cvc(string number, string cvc)
    {
        var digits = number.Replace(" ", "");
        foreach (var error in CardValidation.Validate(new CardDetails(number, 13, 1999, cvc, ""), Today))
        {
            Assert.DoesNotContain(digits, error.ToString());
            Assert.DoesNotContain(cvc, error.ToString());
        }
    }

    [Theory]
    [InlineData("4242424242424242", "987", "visa", "4242")]
    [InlineData("4242-4242-4242-4242", "987", "visa", "4242")]
    [InlineData("378282246310005", "7391", "amex", "0005")]
    [InlineData("5555555555554444", "987", "mastercard", "4444")]
    public void ToString_shows_brand_and_last4_but_never_the_number_or_the_cvc(string number, string cvc, string brand, string last4)
    {
        var card = new CardDetails(number, 7, 2031, cvc, "Ada Lovelace");
        var text = card.ToString();
        Assert.Contains(brand, text);
        Assert.Contains(last4, text);
        Assert.DoesNotContain(number, text);
        Assert.DoesNotContain(CardValidation.NormalizeNumber(number), text);
        Assert.DoesNotContain(CardValidation.NormalizeNumber(number)[..^4], text);
        Assert.DoesNotContain(cvc, text);
        Assert.DoesNotContain(cvc, $"{card}");
        Assert.DoesNotContain(number, $"{new { card }}"); // as a member of something else
    }

    [Fact]
    public void ToString_of_a_malformed_number_shows_no_digits_of_it()
    {
        var text = new CardDetails("98765", 7, 2031, "987", "Ada").ToString();
        Assert.DoesNotContain("8765", text);
        Assert.DoesNotContain("987", text);
    }

    /// <summary>Appends the Luhn check digit to <paramref name="payload"/>.</summary>
    private static string WithCheckDigit(string payload)
    {
        for (var d = 0; d <= 9; d++)
        {
            var candidate = payload + (char)('0' + d);
            if (CardValidation.PassesLuhn(candidate)) return candidate;
        }
        throw new InvalidOperationException("unreachable");
    }
}
