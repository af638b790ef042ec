using System.Globalization;
using System.Security.Cryptography;
using Metering.Domain.Payments;
using Microsoft.Data.Sqlite;

namespace Metering.Billing.Payments;

/// <summary>
/// The default payment gateway: a test-mode provider, like Stripe's, that never moves real money but behaves like
/// one and is durable. Tokens and charges live in a SQLite file (WAL mode), so idempotency keys hold across restarts.
/// </summary>
/// <remarks>
/// <para>
/// Tokenization validates the card with <see cref="CardValidation"/> and succeeds for any valid card. What a charge
/// does is decided by the test card the token came from (Stripe's public test numbers, see <see cref="SandboxTestCards"/>):
/// the outcome is derived from the number at tokenization time and stored with the token; the number itself and the
/// CVC are never stored, only the brand, funding, last four digits, expiry and holder name.
/// </para>
/// <para>
/// A charge that reaches the card (succeeded or declined) is recorded under its idempotency key and that first result
/// is returned for the key from then on, whatever the later arguments. Request errors that never reach a card
/// (<c>invalid_amount</c>, <c>invalid_currency</c>, <c>invalid_token</c>) are returned but not recorded, as Stripe does
/// for requests that fail validation, so <see cref="FindChargeAsync"/> reports nothing for them.
/// </para>
/// <para>Thread-safe; several instances (or processes) may share the file: each charge runs in an immediate transaction.</para>
/// </remarks>
public sealed class SandboxPaymentGateway : IPaymentGateway, IDisposable
{
    /// <summary>Suggested file name inside the data folder.</summary>
    public const string DefaultFileName = "sandbox-gateway.db";

    public const int MaxIdempotencyKeyLength = 255;

    private const string OutcomeSucceeds = "succeeds";

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly TimeProvider _time;
    private bool _disposed;

    /// <param name="databasePath">SQLite file, e.g. <c>{DataDir}/sandbox-gateway.db</c>; created with its folder when missing.</param>
    /// <param name="timeProvider">Gives "today" for card expiry checks; <see cref="TimeProvider.System"/> when null.</param>
    public SandboxPaymentGateway(string databasePath, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        _time = timeProvider ?? TimeProvider.System;
        DatabasePath = Path.GetFullPath(databasePath);
        var folder = Path.GetDirectoryName(DatabasePath);
        if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);

        var connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = DatabasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            // One long-lived connection per gateway; Dispose really closes the file.
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();
        _connection = new SqliteConnection(connectionString);
        try
        {
            _connection.Open();
            Execute("PRAGMA journal_mode=WAL;");
            // A recorded charge must survive a power cut, or a retry with its key could charge again.
            Execute("PRAGMA synchronous=FULL;");
            Execute("""
                CREATE TABLE IF NOT EXISTS tokens (
                    token       TEXT    NOT NULL PRIMARY KEY,
                    brand       TEXT    NOT NULL,
                    funding     TEXT    NOT NULL,
                    last4       TEXT    NOT NULL,
                    exp_month   INTEGER NOT NULL,
                    exp_year    INTEGER NOT NULL,
                    holder_name TEXT    NOT NULL,
                    outcome     TEXT    NOT NULL,
                    created_at  TEXT    NOT NULL
                );
                CREATE TABLE IF NOT EXISTS charges (
                    idempotency_key TEXT    NOT NULL PRIMARY KEY,
                    token           TEXT    NOT NULL,
                    amount          TEXT    NOT NULL,
                    currency        TEXT    NOT NULL,
                    succeeded       INTEGER NOT NULL,
                    charge_id       TEXT    NULL,
                    failure_code    TEXT    NULL,
                    failure_message TEXT    NULL,
                    created_at      TEXT    NOT NULL
                );
                CREATE INDEX IF NOT EXISTS charges_by_token ON charges (token);
                """);
        }
        catch
        {
            _connection.Dispose();
            throw;
        }
    }

    /// <summary>Full path of the SQLite file.</summary>
    public string DatabasePath { get; }

    public async Task<TokenizeResult> TokenizeAsync(CardDetails card, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(card);
        ct.ThrowIfCancellationRequested();

        var errors = CardValidation.Validate(card, Today());
        if (errors.Count > 0)
        {
            var first = errors[0];
            return TokenizeResult.Failure(first.Code, first.Message, first.Field);
        }

        var digits = CardValidation.NormalizeNumber(card.Number);
        var paymentCard = new PaymentCard(
            Token: "tok_" + RandomHex(),
            Brand: CardValidation.Brand(digits)!,
            Funding: SandboxTestCards.FundingOf(digits),
            Last4: digits[^4..],
            ExpMonth: card.ExpMonth,
            ExpYear: card.ExpYear,
            HolderName: card.HolderName.Trim());
        var outcome = SandboxTestCards.FailureCodeOf(digits) ?? OutcomeSucceeds;

        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            using var command = _connection.CreateCommand();
            command.CommandText = """
                INSERT INTO tokens (token, brand, funding, last4, exp_month, exp_year, holder_name, outcome, created_at)
                VALUES ($token, $brand, $funding, $last4, $exp_month, $exp_year, $holder_name, $outcome, $created_at);
                """;
            command.Parameters.AddWithValue("$token", paymentCard.Token);
            command.Parameters.AddWithValue("$brand", paymentCard.Brand);
            command.Parameters.AddWithValue("$funding", paymentCard.Funding.ToString());
            command.Parameters.AddWithValue("$last4", paymentCard.Last4);
            command.Parameters.AddWithValue("$exp_month", paymentCard.ExpMonth);
            command.Parameters.AddWithValue("$exp_year", paymentCard.ExpYear);
            command.Parameters.AddWithValue("$holder_name", paymentCard.HolderName);
            command.Parameters.AddWithValue("$outcome", outcome);
            command.Parameters.AddWithValue("$created_at", Now());
            command.ExecuteNonQuery();
        }
        finally
        {
            _gate.Release();
        }
        return TokenizeResult.Success(paymentCard);
    }

    public async Task<ChargeResult> ChargeAsync(string idempotencyKey, string token, decimal amount, string currency, CancellationToken ct)
    {
        ValidateKey(idempotencyKey);
        ArgumentNullException.ThrowIfNull(token);
        ArgumentNullException.ThrowIfNull(currency);
        ct.ThrowIfCancellationRequested();

        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            // Immediate: takes the write lock before the lookup, so two gateways on one file cannot both miss the key.
            using var transaction = _connection.BeginTransaction(deferred: false);

            var existing = ReadCharge(idempotencyKey, transaction);
            if (existing is not null) return existing;

            var normalizedCurrency = currency.Trim().ToUpperInvariant();
            if (amount <= 0 || decimal.Round(amount, 2) != amount)
            {
                return Rejected(ChargeFailureCodes.InvalidAmount, "The amount must be greater than 0 with at most 2 decimal places.");
            }
            if (normalizedCurrency.Length != 3 || !normalizedCurrency.All(char.IsAsciiLetterUpper))
            {
                return Rejected(ChargeFailureCodes.InvalidCurrency, "The currency must be a 3-letter ISO 4217 code.");
            }
            var card = ReadToken(token, transaction);
            if (card is null)
            {
                return Rejected(ChargeFailureCodes.InvalidToken, "No such card token.");
            }

            var failureCode = card.Value.Outcome == OutcomeSucceeds ? null : card.Value.Outcome;
            var today = Today();
            if (failureCode is null && (long)card.Value.ExpYear * 12 + card.Value.ExpMonth < (long)today.Year * 12 + today.Month)
            {
                failureCode = ChargeFailureCodes.ExpiredCard;
            }

            var result = failureCode is null
                ? new ChargeResult(idempotencyKey, true, "ch_" + RandomHex(), null, null, amount, normalizedCurrency)
                : new ChargeResult(idempotencyKey, false, null, failureCode, FailureMessage(failureCode), amount, normalizedCurrency);

            using (var insert = _connection.CreateCommand())
            {
                insert.Transaction = transaction;
                insert.CommandText = """
                    INSERT INTO charges (idempotency_key, token, amount, currency, succeeded, charge_id, failure_code, failure_message, created_at)
                    VALUES ($key, $token, $amount, $currency, $succeeded, $charge_id, $failure_code, $failure_message, $created_at);
                    """;
                insert.Parameters.AddWithValue("$key", result.IdempotencyKey);
                insert.Parameters.AddWithValue("$token", token);
                insert.Parameters.AddWithValue("$amount", result.Amount.ToString(CultureInfo.InvariantCulture));
                insert.Parameters.AddWithValue("$currency", result.Currency);
                insert.Parameters.AddWithValue("$succeeded", result.Succeeded ? 1 : 0);
                insert.Parameters.AddWithValue("$charge_id", (object?)result.ChargeId ?? DBNull.Value);
                insert.Parameters.AddWithValue("$failure_code", (object?)result.FailureCode ?? DBNull.Value);
                insert.Parameters.AddWithValue("$failure_message", (object?)result.FailureMessage ?? DBNull.Value);
                insert.Parameters.AddWithValue("$created_at", Now());
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
            return result;

            ChargeResult Rejected(string code, string message) =>
                new(idempotencyKey, false, null, code, message, amount, normalizedCurrency);
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<ChargeResult?> FindChargeAsync(string idempotencyKey, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(idempotencyKey);
        ct.ThrowIfCancellationRequested();
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            ThrowIfDisposed();
            return ReadCharge(idempotencyKey, transaction: null);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>How many charges succeeded, in total or for one token; lets tests prove "charged once".</summary>
    public int SucceededChargeCount(string? token = null)
    {
        _gate.Wait();
        try
        {
            ThrowIfDisposed();
            using var command = _connection.CreateCommand();
            command.CommandText = token is null
                ? "SELECT COUNT(*) FROM charges WHERE succeeded = 1;"
                : "SELECT COUNT(*) FROM charges WHERE succeeded = 1 AND token = $token;";
            if (token is not null) command.Parameters.AddWithValue("$token", token);
            return Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Closes the file; calls afterwards throw <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        _gate.Wait();
        try
        {
            if (_disposed) return;
            _disposed = true;
            _connection.Dispose();
        }
        finally
        {
            _gate.Release();
        }
    }

    private ChargeResult? ReadCharge(string idempotencyKey, SqliteTransaction? transaction)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            SELECT succeeded, charge_id, failure_code, failure_message, amount, currency
            FROM charges WHERE idempotency_key = $key;
            """;
        command.Parameters.AddWithValue("$key", idempotencyKey);
        using var reader = command.ExecuteReader();
        if (!reader.Read()) return null;
        return new ChargeResult(
            idempotencyKey,
            reader.GetInt64(0) == 1,
            reader.IsDBNull(1) ? null : reader.GetString(1),
            reader.IsDBNull(2) ? null : reader.GetString(2),
            reader.IsDBNull(3) ? null : reader.GetString(3),
            decimal.Parse(reader.GetString(4), NumberStyles.Number, CultureInfo.InvariantCulture),
            reader.GetString(5));
    }

    private (string Outcome, int ExpMonth, int ExpYear)? ReadToken(string token, SqliteTransaction transaction)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT outcome, exp_month, exp_year FROM tokens WHERE token = $token;";
        command.Parameters.AddWithValue("$token", token);
        using var reader = command.ExecuteReader();
        if (!reader.Read()) return null;
        return (reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2));
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static void ValidateKey(string idempotencyKey)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idempotencyKey);
        if (idempotencyKey.Length > MaxIdempotencyKeyLength)
        {
            throw new ArgumentException($"The idempotency key must be at most {MaxIdempotencyKeyLength} characters.", nameof(idempotencyKey));
        }
    }

    private static string FailureMessage(string code) => code switch
    {
        ChargeFailureCodes.CardDeclined => "The card was declined.",
        ChargeFailureCodes.InsufficientFunds => "The card has insufficient funds.",
        ChargeFailureCodes.ExpiredCard => "The card has expired.",
        _ => "The charge failed.",
    };

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private DateOnly Today() => DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime);

    private string Now() => _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);

    private static string RandomHex() => RandomNumberGenerator.GetHexString(24, lowercase: true);
}

/// <summary>
/// Stripe's public test card numbers that make the sandbox behave in a particular way. Any other valid card
/// tokenizes as credit and its charges succeed.
/// </summary>
public static class SandboxTestCards
{
    /// <summary>Visa, credit: charges succeed.</summary>
    public const string Succeeds = "4242424242424242";
    /// <summary>Visa: charges fail with <c>card_declined</c>.</summary>
    public const string Declined = "4000000000000002";
    /// <summary>Visa: charges fail with <c>insufficient_funds</c>.</summary>
    public const string InsufficientFunds = "4000000000009995";
    /// <summary>Visa: charges fail with <c>expired_card</c> (the card itself tokenizes).</summary>
    public const string ExpiredCard = "4000000000000069";
    /// <summary>Visa debit: charges succeed.</summary>
    public const string VisaDebit = "4000056655665556";
    /// <summary>Mastercard debit: charges succeed.</summary>
    public const string MastercardDebit = "5200828282828210";

    /// <summary>The charge failure code a card number (digits only) is wired to, or null when its charges succeed.</summary>
    public static string? FailureCodeOf(string digits) => digits switch
    {
        Declined => ChargeFailureCodes.CardDeclined,
        InsufficientFunds => ChargeFailureCodes.InsufficientFunds,
        ExpiredCard => ChargeFailureCodes.ExpiredCard,
        _ => null,
    };

    public static CardFunding FundingOf(string digits) => digits is VisaDebit or MastercardDebit
        ? CardFunding.Debit
        : CardFunding.Credit;
}
