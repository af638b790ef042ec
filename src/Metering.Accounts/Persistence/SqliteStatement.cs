using System.Buffers;
using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Metering.Accounts.Persistence;

/// <summary>
/// One SQL statement prepared on an open SQLite connection's own handle, whose runs bind their values
/// by position and step it, inside whatever transaction the connection has. Microsoft.Data.Sqlite
/// binds every parameter again by name on each run, with a binder object per parameter and each
/// string copied to UTF-8 through a new array: for the journal's inserts and the usage rows' upserts,
/// about a tenth of the engine's allocated bytes went to binding them (session 15, docs/benchmarks.md).
/// Values are stored as Microsoft.Data.Sqlite stores them (a decimal as its invariant text with at
/// least one decimal, a bool as 0 or 1), so rows read back the same whichever wrote them.
/// </summary>
public sealed class SqliteStatement : IDisposable
{
    private const int StackLimit = 512;

    private readonly sqlite3 _database;
    private readonly sqlite3_stmt _statement;
    private readonly int _parameters;

    /// <param name="sql">One statement; its parameters take values in the order they first appear (SQLite's rule for named ones).</param>
    public SqliteStatement(SqliteConnection connection, string sql)
    {
        _database = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        SqliteException.ThrowExceptionForRC(raw.sqlite3_prepare_v2(_database, sql, out _statement), _database);
        _parameters = raw.sqlite3_bind_parameter_count(_statement);
    }

    /// <summary>Binds <paramref name="values"/> to the parameters in order and runs the statement to its end.</summary>
    public void Execute(IReadOnlyList<object?> values)
    {
        if (values.Count != _parameters)
            throw new ArgumentException($"The statement takes {_parameters} values, not {values.Count}.", nameof(values));
        for (var i = 0; i < values.Count; i++) Check(Bind(i + 1, values[i]));
        int step;
        while ((step = raw.sqlite3_step(_statement)) == raw.SQLITE_ROW)
        {
        }
        // Reset either way, so a failed run leaves the statement ready for the next; its error is the step's.
        raw.sqlite3_reset(_statement);
        if (step != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(step, _database);
    }

    public void Dispose() => _statement.Dispose();

    private int Bind(int index, object? value) => value switch
    {
        null or DBNull => raw.sqlite3_bind_null(_statement, index),
        string text => BindText(index, text),
        long number => raw.sqlite3_bind_int64(_statement, index, number),
        int number => raw.sqlite3_bind_int64(_statement, index, number),
        bool flag => raw.sqlite3_bind_int64(_statement, index, flag ? 1 : 0),
        byte[] blob => raw.sqlite3_bind_blob(_statement, index, blob),
        decimal amount => BindDecimal(index, amount),
        _ => throw new NotSupportedException($"No SQLite binding for a {value.GetType().Name}."),
    };

    private int BindDecimal(int index, decimal amount)
    {
        Span<byte> utf8 = stackalloc byte[64];
        return raw.sqlite3_bind_text(_statement, index, utf8[..DecimalText(amount, utf8)]);
    }

    /// <summary>
    /// Writes Microsoft.Data.Sqlite's text for <paramref name="amount"/> (its format <c>0.0###…</c>:
    /// at least one decimal, no trailing zeros) from the plain invariant form, and returns its length.
    /// The custom format is parsed again on every call: a fifth of these statements' CPU.
    /// </summary>
    public static int DecimalText(decimal amount, Span<byte> utf8)
    {
        if (!amount.TryFormat(utf8, out var length, default, CultureInfo.InvariantCulture))
            throw new ArgumentException("The buffer is too small for a decimal.", nameof(utf8));
        var point = utf8[..length].IndexOf((byte)'.');
        if (point < 0)
        {
            utf8[length++] = (byte)'.';
            utf8[length++] = (byte)'0';
        }
        else
        {
            while (length > point + 2 && utf8[length - 1] == '0') length--;
        }
        return length;
    }

    private int BindText(int index, string text)
    {
        var length = Encoding.UTF8.GetMaxByteCount(text.Length);
        var rented = length <= StackLimit ? null : ArrayPool<byte>.Shared.Rent(length);
        var buffer = rented is null ? stackalloc byte[StackLimit] : rented;
        try
        {
            // SQLite copies the text (SQLITE_TRANSIENT), so the buffer is free again once this returns.
            return raw.sqlite3_bind_text(_statement, index, buffer[..Encoding.UTF8.GetBytes(text, buffer)]);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private void Check(int result)
    {
        if (result != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(result, _database);
    }
}
