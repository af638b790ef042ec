namespace Metering.Accounts.Tests;

public sealed class AccountsOptionsTests
{
    [Fact]
    public void Writing_behind_longer_than_half_the_ask_timeout_is_refused_naming_both_settings()
    {
        new AccountsOptions { WriteBehind = TimeSpan.FromSeconds(15), AskTimeout = TimeSpan.FromSeconds(30) }.Validate();
        new AccountsOptions().Validate();

        var refused = Assert.Throws<InvalidOperationException>(() =>
            new AccountsOptions { WriteBehind = TimeSpan.FromSeconds(16), AskTimeout = TimeSpan.FromSeconds(30) }.Validate());
        Assert.Contains("Metering:Accounts:WriteBehind", refused.Message);
        Assert.Contains("Metering:Accounts:AskTimeout", refused.Message);
    }
}
