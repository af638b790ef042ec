using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Sql.Snapshot;

namespace Metering.Accounts.Persistence;

/// <summary>
/// Akka.Persistence.Sql's snapshot store, with the load every recovery makes (the latest snapshot)
/// read by <see cref="SnapshotReads"/>; other selections, saves and deletes are the base store's.
/// </summary>
public sealed class MeteringSqlSnapshotStore : SqlSnapshotStore
{
    private readonly SnapshotReads _reads;

    public MeteringSqlSnapshotStore(Config snapshotConfig) : base(snapshotConfig) =>
        _reads = new SnapshotReads(JournalDatabase.ForPlugin(snapshotConfig), Context.System.Serialization, snapshotConfig);

    protected override Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) =>
        criteria.MaxSequenceNr == long.MaxValue && criteria.MaxTimeStamp == DateTime.MaxValue
            ? _reads.LatestAsync(persistenceId, cancellationToken)
            : base.LoadAsync(persistenceId, criteria, cancellationToken);

    protected override void PostStop()
    {
        _reads.Dispose();
        base.PostStop();
    }
}
