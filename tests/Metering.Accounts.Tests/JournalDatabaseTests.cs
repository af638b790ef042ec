using Metering.Accounts.Persistence;
using Npgsql;

namespace Metering.Accounts.Tests;

public sealed class JournalDatabaseTests
{
    [Theory]
    [InlineData("Host=db;Database=metering;Username=m", 50)]
    [InlineData("Host=db;Database=metering;Username=m;Max Auto Prepare=0", 0)]
    [InlineData("Host=db;Database=metering;Username=m;maxautoprepare=7", 7)]
    public void PostgreSQL_prepares_repeated_statements_unless_the_connection_string_says_otherwise(string given, int prepared)
    {
        var database = JournalDatabase.Postgres(given);
        var settings = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        Assert.Equal(prepared, settings.MaxAutoPrepare);
        Assert.Equal(("db", "metering", "m"), (settings.Host, settings.Database, settings.Username));
        // What the journal plugin is configured with names the same database the same way.
        Assert.Equal(database.ConnectionString, JournalDatabase.Postgres(database.ConnectionString).ConnectionString);
    }
}
