namespace Metering.Domain.Accounts;

/// <summary>
/// Account ids travel in URLs, Kafka keys and persistence ids, so they are kept to a safe alphabet:
/// 1 to 64 characters of letters, digits, '.', '_' and '-', starting with a letter or digit.
/// </summary>
public static class AccountId
{
    public const int MaxLength = 64;

    public static bool IsValid(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > MaxLength || !char.IsAsciiLetterOrDigit(id[0])) return false;
        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '_' or '-')) return false;
        }
        return true;
    }

    public const string Rule = "1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit";
}
