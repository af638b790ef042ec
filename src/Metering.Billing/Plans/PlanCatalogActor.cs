using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Metering.Domain.Plans;
using Metering.Domain.Pricing;

namespace Metering.Billing.Plans;

/// <summary>
/// The plan catalog, persisted as <c>plan-catalog</c> and run as a cluster singleton so there is one
/// writer. The first start (an empty journal) persists the seed plans from configuration; from then on the
/// journal is the truth and plans change only through <see cref="PutPlan"/>, so editing the configuration
/// later does not overwrite plans changed through the API. Replies come only after the journal write.
/// </summary>
public sealed class PlanCatalogActor : ReceivePersistentActor
{
    public const string Id = "plan-catalog";

    /// <summary>A snapshot every N persisted events bounds recovery time.</summary>
    public const int SnapshotEvery = 50;

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly TimeProvider _time;
    private readonly SortedDictionary<string, Plan> _plans = new(StringComparer.Ordinal);

    public PlanCatalogActor(IReadOnlyList<Plan> seed, TimeProvider time)
    {
        _time = time;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is not PlanCatalogSnapshot snapshot) return;
            _plans.Clear();
            foreach (var plan in snapshot.Plans) _plans[plan.Id] = plan;
        });
        Recover<PlanPut>(Apply);
        Recover<RecoveryCompleted>(_ =>
        {
            // Nothing was ever persisted (no event, no snapshot): seed once. Commands that arrive meanwhile
            // are stashed until the seed is written, so nobody sees an empty catalog.
            if (LastSequenceNr != 0 || seed.Count == 0) return;
            var now = _time.GetUtcNow();
            _log.Info("Plan catalog is empty; seeding {0} plans", seed.Count);
            PersistAll(seed.Select(plan => new PlanPut(Copy(plan), now)), AfterPersist);
        });

        Command<GetPlans>(_ => Sender.Tell(new PlanList(_plans.Values.ToArray())));
        Command<GetPlan>(m => Sender.Tell(new PlanFound(m.PlanId is null ? null : _plans.GetValueOrDefault(m.PlanId))));
        Command<PutPlan>(Put);
        Command<Stop>(_ => Context.Stop(Self));

        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause, "Snapshot of {0} failed; the journal still holds every event", PersistenceId));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning(f.Cause, "Old snapshots of {0} were not deleted", PersistenceId));
    }

    public override string PersistenceId => Id;

    /// <param name="seed">Plans persisted on the very first start; each must be valid and ids must be unique.</param>
    /// <exception cref="ArgumentException">A seed plan is invalid or two share an id.</exception>
    public static Props GetProps(IReadOnlyList<Plan> seed, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(seed);
        ArgumentNullException.ThrowIfNull(time);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var plan in seed)
        {
            if (plan is null) throw new ArgumentException("A seed plan is null.", nameof(seed));
            var errors = plan.Validate();
            if (errors.Count > 0) throw new ArgumentException($"Seed plan '{plan.Id}' is invalid: {string.Join(" ", errors)}", nameof(seed));
            if (!seen.Add(plan.Id)) throw new ArgumentException($"Seed plan id '{plan.Id}' appears twice.", nameof(seed));
        }
        var copy = seed.ToArray();
        return Props.Create(() => new PlanCatalogActor(copy, time));
    }

    private void Put(PutPlan m)
    {
        if (m.Plan is null)
        {
            Sender.Tell(new PlanPutResult(null, false, ["plan is required."]));
            return;
        }
        var errors = m.Plan.Validate();
        if (errors.Count > 0)
        {
            Sender.Tell(new PlanPutResult(null, false, errors));
            return;
        }
        var exists = _plans.TryGetValue(m.Plan.Id, out var current);
        if (exists && current!.Equals(m.Plan))
        {
            Sender.Tell(new PlanPutResult(current, false, []));
            return;
        }
        var replyTo = Sender;
        Persist(new PlanPut(Copy(m.Plan), _time.GetUtcNow()), e =>
        {
            AfterPersist(e);
            replyTo.Tell(new PlanPutResult(e.Plan, !exists, []));
        });
    }

    private void Apply(PlanPut e) => _plans[e.Plan.Id] = e.Plan;

    private void AfterPersist(PlanPut e)
    {
        Apply(e);
        if (LastSequenceNr % SnapshotEvery == 0)
            SaveSnapshot(new PlanCatalogSnapshot(_plans.Values.ToArray()));
    }

    /// <summary>
    /// The catalog keeps its own copy of a valid plan (plain dictionaries and arrays), so a caller in the same
    /// process cannot change a stored plan through a collection it still holds.
    /// </summary>
    private static Plan Copy(Plan plan) => plan with
    {
        Quotas = new Dictionary<string, decimal>(plan.Quotas, StringComparer.Ordinal),
        Overage = plan.Overage.ToDictionary(kv => kv.Key, kv => Copy(kv.Value), StringComparer.Ordinal),
    };

    private static OveragePrice Copy(OveragePrice price) => price switch
    {
        GraduatedPrice graduated => new GraduatedPrice(graduated.Tiers.ToArray()),
        VolumePrice volume => new VolumePrice(volume.Tiers.ToArray()),
        _ => price, // per-unit and package prices hold only numbers
    };

    /// <summary>
    /// Termination message for the singleton hand-over: unlike a PoisonPill it waits behind a pending journal
    /// write (commands are stashed while persisting), so a put in flight is written and answered before the
    /// singleton moves.
    /// Local only, never serialized.
    /// </summary>
    public sealed class Stop : INoSerializationVerificationNeeded
    {
        public static readonly Stop Instance = new();

        private Stop() { }
    }
}
