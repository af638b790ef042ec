using System.Collections.Concurrent;
using System.Data.Common;

namespace Metering.Accounts.Persistence;

/// <summary>
/// Open connections kept for the reads every recovering account makes, each with its statements
/// prepared at their first use. Opening a pooled connection (its session pragmas run every time)
/// and compiling the SQL were half of such a read's CPU, and the reads a tenth of a cold start with
/// 10,000 accounts (docs/benchmarks.md, session 14). A session whose read failed is closed rather than
/// kept, so a broken connection (the database restarted) costs one failed read.
/// </summary>
public sealed class ReadSessions(JournalDatabase database) : IDisposable
{
    /// <summary>
    /// Idle sessions kept (more are opened while more reads run at once, and closed after). On SQLite
    /// a few: the reads run on the thread pool, a few at a time. On PostgreSQL none, so no slot of the
    /// node's connection pool is held idle (docs/operations.md): Npgsql opens from its pool cheaply
    /// and keeps a connection's prepared statements across opens.
    /// </summary>
    private readonly int _keep = database.Provider == "sqlite" ? Math.Max(4, Environment.ProcessorCount) : 0;
    private readonly ConcurrentQueue<Session> _idle = new();
    private volatile bool _disposed;

    /// <summary>Runs <paramref name="read"/> on a session of its own.</summary>
    public async Task<T> RunAsync<T>(Func<Session, Task<T>> read, CancellationToken ct)
    {
        var session = _idle.TryDequeue(out var idle) ? idle : new Session(await database.OpenAsync(ct));
        var kept = false;
        try
        {
            var result = await read(session);
            if (!_disposed && _idle.Count < _keep)
            {
                _idle.Enqueue(session);
                kept = true;
                if (_disposed) Dispose(); // closed meanwhile
            }
            return result;
        }
        finally
        {
            if (!kept) session.Dispose();
        }
    }

    /// <summary>Closes the idle sessions; those in use are closed when their read ends.</summary>
    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryDequeue(out var session)) session.Dispose();
    }

    /// <summary>One open connection and its prepared statements, used by one read at a time.</summary>
    public sealed class Session(DbConnection connection) : IDisposable
    {
        private readonly Dictionary<string, DbCommand> _statements = new(StringComparer.Ordinal);

        /// <summary>The statement for <paramref name="sql"/>, prepared at its first use, with <paramref name="parameters"/> bound (always the same names, in the same order).</summary>
        public DbCommand Statement(string sql, params (string Name, object Value)[] parameters)
        {
            if (_statements.TryGetValue(sql, out var command))
            {
                for (var i = 0; i < parameters.Length; i++) command.Parameters[i].Value = parameters[i].Value;
                return command;
            }
            command = JournalDatabase.Command(connection, null, sql, [.. parameters.Select(p => (p.Name, (object?)p.Value))]);
            command.Prepare();
            _statements[sql] = command;
            return command;
        }

        public void Dispose()
        {
            foreach (var command in _statements.Values) command.Dispose();
            connection.Dispose();
        }
    }
}
