using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Metering.Accounts.Messages;
using Metering.Domain.Accounts;

namespace Metering.Accounts;

/// <summary>
/// One account, sharded across the cluster and persisted as <c>account-{id}</c>. Thin on purpose:
/// decide with the domain, persist, apply, reply. The reply comes only after the journal write, which
/// is what lets the Kafka consumer commit its offsets.
/// </summary>
public sealed class AccountActor : ReceivePersistentActor
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TimeProvider _time;
    private readonly AccountsOptions _options;
    private Account _account;

    public AccountActor(string accountId, AccountsOptions options, TimeProvider time)
    {
        _time = time;
        _options = options;
        _account = new Account(accountId, options.Settings);
        PersistenceId = PersistenceIdFor(accountId);

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is AccountSnapshot snapshot)
                _account = Account.FromSnapshot(snapshot, options.Settings);
        });
        Recover<IAccountEvent>(e => _account.Apply(e));

        Command<RecordAccountUsage>(Handle);
        Command<GetAccountOverview>(_ => Sender.Tell(Overview()));
        Command<SaveSnapshotSuccess>(s =>
            DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause, "Snapshot of {0} failed; the journal still holds every event", PersistenceId));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning(f.Cause, "Old snapshots of {0} were not deleted", PersistenceId));
    }

    public override string PersistenceId { get; }

    public static string PersistenceIdFor(string accountId) => $"account-{accountId}";

    public static Props GetProps(string accountId, AccountsOptions options, TimeProvider time) =>
        Props.Create(() => new AccountActor(accountId, options, time));

    private void Handle(RecordAccountUsage command)
    {
        var decision = _account.Decide(new RecordUsage(command.Records, _time.GetUtcNow()));
        var outcome = decision.Outcome;
        var reply = new UsageAccepted(command.AccountId, outcome.Accepted, outcome.Duplicates, outcome.Redelivered);
        if (decision.Events.Count == 0)
        {
            Sender.Tell(reply);
            return;
        }

        var sender = Sender;
        PersistAll(decision.Events, e =>
        {
            _account.Apply(e);
            if (LastSequenceNr % _options.SnapshotEvery == 0)
                SaveSnapshot(_account.ToSnapshot());
        });
        DeferAsync(reply, r => sender.Tell(r));
    }

    private AccountOverview Overview() => new(
        _account.Id,
        _account.Currency,
        _account.Balance,
        _account.PendingBalance,
        _account.Cycle?.Start,
        _account.Cycle?.End,
        _account.Usage.ToDictionary(),
        _account.EventsProcessed,
        _account.DuplicatesDropped,
        _account.LastUsageAt,
        _time.GetUtcNow());
}
