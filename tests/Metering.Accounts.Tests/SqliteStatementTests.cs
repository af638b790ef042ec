using System.Globalization;
using System.Text;
using CsCheck;
using Metering.Accounts.Persistence;
using Microsoft.Data.Sqlite;

namespace Metering.Accounts.Tests;

public sealed class SqliteStatementTests : IDisposable
{
    private readonly SqliteConnection _connection = new("Data Source=:memory:");

    public SqliteStatementTests()
    {
        _connection.Open();
        Run("CREATE TABLE t (k INTEGER PRIMARY KEY, v)");
    }

    public void Dispose() => _connection.Dispose();

    public static TheoryData<object?> Values => new()
    {
        null, DBNull.Value, "", "text", "ünïcödé ✓ 𝄞", new string('a', 2_000), 0L, -42L, long.MaxValue, 7, true, false,
        new byte[] { 0, 1, 255 }, Array.Empty<byte>(), 0m, 1m, -0.5m, 12.3400m, 0.0000001m, decimal.MaxValue, decimal.MinValue,
    };

    [Theory]
    [MemberData(nameof(Values))]
    public void A_value_is_stored_as_Microsoft_Data_Sqlite_stores_it(object? value)
    {
        using (var statement = new SqliteStatement(_connection, "INSERT INTO t (k, v) VALUES (@k, @v)"))
            statement.Execute([1L, value]);
        using (var command = _connection.CreateCommand())
        {
            command.CommandText = "INSERT INTO t (k, v) VALUES (2, @v)";
            command.Parameters.AddWithValue("@v", value ?? DBNull.Value);
            command.ExecuteNonQuery();
        }

        Assert.Equal(Stored(2), Stored(1));
    }

    [Fact]
    public void A_failed_run_throws_SQLites_error_and_the_statement_runs_again_after()
    {
        using var statement = new SqliteStatement(_connection, "INSERT INTO t (k, v) VALUES (@k, @v)");
        statement.Execute([1L, "a"]);
        var error = Assert.Throws<SqliteException>(() => statement.Execute([1L, "b"]));
        Assert.Equal(19, error.SqliteErrorCode); // SQLITE_CONSTRAINT
        statement.Execute([2L, "c"]);
        Assert.Equal("text:63", Stored(2));
        Assert.Equal(2L, Scalar("SELECT count(*) FROM t"));
        Assert.Throws<ArgumentException>(() => statement.Execute([3L]));
        Assert.Throws<NotSupportedException>(() => statement.Execute([3L, Guid.NewGuid()]));
    }

    [Fact]
    public void A_decimals_text_is_Microsoft_Data_Sqlites_for_any_value_and_scale()
    {
        Gen.Select(Gen.Decimal, Gen.Int[0, 28]).Select((d, scale) => decimal.Round(d, Math.Min(scale, d.Scale)))
            .Sample(d => Assert.Equal(Expected(d), Text(d)));
        foreach (var d in new[] { 0m, -0m, decimal.Negate(0.000m), 1.10m, 100m, -100.000m, 0.0000000000000000000000000001m })
            Assert.Equal(Expected(d), Text(d));

        static string Expected(decimal d) => d.ToString("0.0###########################", CultureInfo.InvariantCulture);

        static string Text(decimal d)
        {
            Span<byte> utf8 = stackalloc byte[64];
            return Encoding.UTF8.GetString(utf8[..SqliteStatement.DecimalText(d, utf8)]);
        }
    }

    /// <summary>The stored value's type and its bytes as SQLite holds them.</summary>
    private string Stored(long key) => (string)Scalar($"SELECT typeof(v) || ':' || coalesce(hex(v), 'NULL') FROM t WHERE k = {key}")!;

    private object? Scalar(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    private void Run(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
