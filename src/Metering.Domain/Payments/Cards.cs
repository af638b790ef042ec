namespace Metering.Domain.Payments;

/// <summary>Whether a card draws on a credit line or on the holder's bank account.</summary>
public enum CardFunding
{
    Credit,
    Debit,
}

/// <summary>
/// Card details as the customer typed them. They only pass through: the number and the CVC are never stored,
/// logged or returned; <see cref="ToString"/> prints the brand and the last four digits only.
/// </summary>
/// <param name="Number">Card number; spaces and dashes between digits are allowed.</param>
/// <param name="ExpMonth">1 to 12.</param>
/// <param name="ExpYear">Four-digit year.</param>
/// <param name="Cvc">3 digits (4 for American Express).</param>
/// <param name="HolderName">Name on the card.</param>
public sealed record CardDetails(string Number, int ExpMonth, int ExpYear, string Cvc, string HolderName)
{
    /// <summary>Safe for logs: brand, last four digits and expiry; never the number or the CVC.</summary>
    public override string ToString()
    {
        var digits = CardValidation.NormalizeNumber(Number);
        var wellFormed = digits.Length is >= CardValidation.MinNumberLength and <= CardValidation.MaxNumberLength
            && digits.All(char.IsAsciiDigit);
        var brand = (wellFormed ? CardValidation.Brand(digits) : null) ?? "unknown";
        var last4 = wellFormed ? digits[^4..] : "????";
        return $"CardDetails {{ Brand = {brand}, Last4 = {last4}, Exp = {ExpMonth:00}/{ExpYear} }}";
    }
}

/// <summary>One problem with a card; messages never quote the number or the CVC.</summary>
/// <param name="Field">Property of <see cref="CardDetails"/>: <c>number</c>, <c>exp_month</c>, <c>exp_year</c>, <c>cvc</c> or <c>holder_name</c>.</param>
/// <param name="Code">Machine-readable: see the constants on <see cref="CardErrorCodes"/>.</param>
public sealed record CardError(string Field, string Code, string Message);

public static class CardErrorCodes
{
    public const string InvalidNumber = "invalid_number";
    public const string UnsupportedBrand = "unsupported_brand";
    public const string InvalidExpiry = "invalid_expiry";
    public const string Expired = "expired";
    public const string InvalidCvc = "invalid_cvc";
    public const string InvalidHolder = "invalid_holder";
}

/// <summary>Checks a card before it goes to a payment gateway. Pure: today's date is passed in.</summary>
public static class CardValidation
{
    public const int MinNumberLength = 12;
    public const int MaxNumberLength = 19;
    public const int MaxYearsAhead = 20;
    public const int MaxHolderNameLength = 100;

    /// <summary>
    /// Every problem with <paramref name="card"/>, in field order (number, expiry, CVC, holder); empty when the card is valid.
    /// A card is valid through the last day of its expiry month.
    /// </summary>
    public static IReadOnlyList<CardError> Validate(CardDetails card, DateOnly today)
    {
        ArgumentNullException.ThrowIfNull(card);
        var errors = new List<CardError>();

        var digits = NormalizeNumber(card.Number);
        string? brand = null;
        if (digits.Length == 0 || !digits.All(char.IsAsciiDigit))
        {
            errors.Add(new("number", CardErrorCodes.InvalidNumber, "The card number must contain only digits, spaces and dashes."));
        }
        else if (digits.Length is < MinNumberLength or > MaxNumberLength)
        {
            errors.Add(new("number", CardErrorCodes.InvalidNumber, $"The card number must have {MinNumberLength} to {MaxNumberLength} digits."));
        }
        else if (!PassesLuhn(digits))
        {
            errors.Add(new("number", CardErrorCodes.InvalidNumber, "The card number is not valid (checksum failed)."));
        }
        else
        {
            brand = Brand(digits);
            if (brand is null)
            {
                errors.Add(new("number", CardErrorCodes.UnsupportedBrand, "The card brand is not supported (Visa, Mastercard, American Express or Discover)."));
            }
        }

        if (card.ExpMonth is < 1 or > 12)
        {
            errors.Add(new("exp_month", CardErrorCodes.InvalidExpiry, "The expiry month must be 1 to 12."));
        }
        else if ((long)card.ExpYear * 12 + card.ExpMonth < (long)today.Year * 12 + today.Month)
        {
            errors.Add(new("exp_year", CardErrorCodes.Expired, "The card has expired."));
        }
        else if (card.ExpYear > today.Year + MaxYearsAhead)
        {
            errors.Add(new("exp_year", CardErrorCodes.InvalidExpiry, $"The expiry year must be at most {MaxYearsAhead} years ahead."));
        }

        var cvcLength = brand == "amex" ? 4 : 3;
        var cvc = card.Cvc ?? "";
        var cvcOk = brand is null
            ? cvc.Length is 3 or 4 && cvc.All(char.IsAsciiDigit)
            : cvc.Length == cvcLength && cvc.All(char.IsAsciiDigit);
        if (!cvcOk)
        {
            errors.Add(new("cvc", CardErrorCodes.InvalidCvc, brand is null
                ? "The security code must be 3 or 4 digits."
                : $"The security code must be {cvcLength} digits."));
        }

        var holder = card.HolderName?.Trim() ?? "";
        if (holder.Length == 0)
        {
            errors.Add(new("holder_name", CardErrorCodes.InvalidHolder, "The card holder's name is required."));
        }
        else if (holder.Length > MaxHolderNameLength)
        {
            errors.Add(new("holder_name", CardErrorCodes.InvalidHolder, $"The card holder's name must be at most {MaxHolderNameLength} characters."));
        }
        else if (holder.Any(char.IsControl))
        {
            errors.Add(new("holder_name", CardErrorCodes.InvalidHolder, "The card holder's name must not contain control characters."));
        }

        return errors;
    }

    /// <summary>The number without the spaces and dashes people type between groups (other characters are kept).</summary>
    public static string NormalizeNumber(string? number) =>
        number is null ? "" : string.Concat(number.Where(c => c is not (' ' or '-')));

    /// <summary>Luhn (mod 10) checksum over a string of digits; false for anything that is not only digits.</summary>
    public static bool PassesLuhn(string digits)
    {
        if (string.IsNullOrEmpty(digits)) return false;
        var sum = 0;
        var doubleIt = false;
        for (var i = digits.Length - 1; i >= 0; i--)
        {
            var c = digits[i];
            if (!char.IsAsciiDigit(c)) return false;
            var d = c - '0';
            if (doubleIt)
            {
                d *= 2;
                if (d > 9) d -= 9;
            }
            sum += d;
            doubleIt = !doubleIt;
        }
        return sum % 10 == 0;
    }

    /// <summary>
    /// Brand from the leading digits: <c>visa</c> (4), <c>mastercard</c> (51–55, 2221–2720), <c>amex</c> (34, 37),
    /// <c>discover</c> (6011, 65, 644–649); null for anything else, including non-digits.
    /// </summary>
    public static string? Brand(string digits)
    {
        if (string.IsNullOrEmpty(digits) || !digits.All(char.IsAsciiDigit)) return null;

        int Prefix(int length) => digits.Length >= length ? int.Parse(digits.AsSpan(0, length), System.Globalization.CultureInfo.InvariantCulture) : -1;

        if (digits[0] == '4') return "visa";
        var p2 = Prefix(2);
        var p3 = Prefix(3);
        var p4 = Prefix(4);
        if (p2 is >= 51 and <= 55 || p4 is >= 2221 and <= 2720) return "mastercard";
        if (p2 is 34 or 37) return "amex";
        if (p4 == 6011 || p2 == 65 || p3 is >= 644 and <= 649) return "discover";
        return null;
    }
}
