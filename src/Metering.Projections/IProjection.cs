using System.Data.Common;
using Akka.Persistence.Query;

namespace Metering.Projections;

/// <summary>A batch's writes to the read tables, run inside the transaction that also moves the offset.</summary>
public delegate Task ProjectionWrite(DbConnection connection, DbTransaction transaction, CancellationToken ct);

/// <summary>
/// One read model fed by every journal event in order (it skips those it has no use for). <see cref="PrepareAsync"/> works out a batch's
/// writes before any transaction is open (it may read the journal), so the transaction that writes
/// them together with the offset stays short: on SQLite it holds the database's one write lock,
/// which the journal needs too. A batch is projected exactly once or not at all.
/// </summary>
public interface IProjection
{
    /// <summary>Stable name: the offset row's key and the rebuild endpoint's <c>{name}</c>.</summary>
    string Name { get; }

    /// <summary>Tables emptied when the projection is rebuilt from scratch.</summary>
    IEnumerable<string> Tables { get; }

    Task<ProjectionWrite> PrepareAsync(IReadOnlyList<EventEnvelope> batch, CancellationToken ct);

    /// <summary>
    /// Drops in-memory state that may be ahead of the database (after a failed transaction, before
    /// a rebuild): the next batch rebuilds it from the journal.
    /// </summary>
    void Forget();
}
