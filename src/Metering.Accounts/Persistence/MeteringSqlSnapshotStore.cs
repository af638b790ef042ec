using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Sql.Snapshot;

namespace Metering.Accounts.Persistence;

/// <summary>
/// Akka.Persistence.Sql's snapshot store, with the load every recovery makes (the latest snapshot)
/// read by <see cref="RecoveryReads"/>; other selections, saves and deletes are the base store's.
/// </summary>
public sealed class MeteringSqlSnapshotStore : SqlSnapshotStore
{
    private readonly RecoveryReads _reads;

    public MeteringSqlSnapshotStore(Config snapshotConfig) : base(snapshotConfig)
    {
        var journal = Context.System.Settings.Config.GetConfig("akka.persistence.journal.sql");
        _reads = new RecoveryReads(JournalDatabase.ForPlugin(snapshotConfig), Context.System.Serialization, journal, snapshotConfig);
    }

    protected override Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) =>
        criteria.MaxSequenceNr == long.MaxValue && criteria.MaxTimeStamp == DateTime.MaxValue
            ? _reads.LatestSnapshotAsync(persistenceId, cancellationToken)
            : base.LoadAsync(persistenceId, criteria, cancellationToken);
}
