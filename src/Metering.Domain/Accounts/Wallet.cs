namespace Metering.Domain.Accounts;

/// <summary>
/// The prepaid wallet's one rule. A charge is taken from the balance; what the balance cannot cover
/// becomes pending. A credit (a negative charge, or added funds) settles pending first, and only
/// the rest raises the balance. So <c>balance - pending</c> always equals credits minus charges,
/// and neither ever goes negative.
/// </summary>
public static class Wallet
{
    public static (decimal Balance, decimal Pending) AfterCharge(decimal balance, decimal pending, decimal amount)
    {
        if (amount < 0) return AfterCredit(balance, pending, -amount);
        var taken = Math.Min(balance, amount);
        return (balance - taken, pending + amount - taken);
    }

    public static (decimal Balance, decimal Pending) AfterCredit(decimal balance, decimal pending, decimal amount)
    {
        var settled = Math.Min(pending, amount);
        return (balance + amount - settled, pending - settled);
    }
}
