using System.Data.Common;
using LinqToDB.Interceptors;

namespace Metering.Accounts.Persistence;

/// <summary>Gives the journal's connections the database's per-connection settings (<see cref="JournalDatabase.SessionPragmas"/>) as they open.</summary>
public sealed class SessionSettings(JournalDatabase database) : ConnectionInterceptor
{
    public override void ConnectionOpened(ConnectionEventData eventData, DbConnection connection) =>
        database.ApplySessionPragmas(connection);

    public override Task ConnectionOpenedAsync(ConnectionEventData eventData, DbConnection connection, CancellationToken cancellationToken)
    {
        database.ApplySessionPragmas(connection);
        return Task.CompletedTask;
    }
}
