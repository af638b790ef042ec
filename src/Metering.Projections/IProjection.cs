using System.Data.Common;
using Akka.Persistence.Query;

namespace Metering.Projections;

/// <summary>
/// One read model fed by the events of one tag. <see cref="ProjectAsync"/> writes a batch's rows
/// inside the transaction that also stores the projection's offset, so a batch is projected exactly
/// once or not at all.
/// </summary>
public interface IProjection
{
    /// <summary>Stable name: the offset row's key and the rebuild endpoint's <c>{name}</c>.</summary>
    string Name { get; }

    string Tag { get; }

    /// <summary>Tables emptied when the projection is rebuilt from scratch.</summary>
    IEnumerable<string> Tables { get; }

    Task ProjectAsync(IReadOnlyList<EventEnvelope> batch, DbConnection connection, DbTransaction transaction, CancellationToken ct);

    /// <summary>
    /// Drops in-memory state that may be ahead of the database (after a failed transaction, before
    /// a rebuild): the next batch rebuilds it from the journal.
    /// </summary>
    void Forget();
}
