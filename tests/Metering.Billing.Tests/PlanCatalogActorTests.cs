using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Serialization;
using Akka.TestKit.Xunit2;
using Metering.Billing.Plans;
using Metering.Domain.Plans;
using Metering.Domain.Pricing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Time.Testing;

namespace Metering.Billing.Tests;

public sealed class PlanCatalogActorTests : TestKit
{
    // In-memory journal and snapshots; every message is serialized on send, so the explicit
    // serializer is exercised for commands and replies too.
    private static readonly Config Config = ConfigurationFactory.ParseString($$"""
        akka.persistence.journal.plugin = "akka.persistence.journal.inmem"
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.inmem"
        akka.actor.serialize-messages = on
        akka.test.single-expect-default = 10s
        akka.actor.serializers.metering-plans = "{{typeof(PlanCatalogSerializer).AssemblyQualifiedName}}"
        akka.actor.serialization-bindings {
          "{{typeof(IPlanCatalogMessage).AssemblyQualifiedName}}" = metering-plans
          "{{typeof(PlanPut).AssemblyQualifiedName}}" = metering-plans
          "{{typeof(PlanCatalogSnapshot).AssemblyQualifiedName}}" = metering-plans
        }
        """);

    private static readonly DateTimeOffset T0 = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);
    private readonly FakeTimeProvider _time = new(T0);

    public PlanCatalogActorTests() : base(Config) { }

    private IActorRef Start(IReadOnlyList<Plan> seed) => Sys.ActorOf(PlanCatalogActor.GetProps(seed, _time));

    private void Restart(IActorRef catalog)
    {
        Watch(catalog);
        catalog.Tell(PlanCatalogActor.Stop.Instance);
        ExpectTerminated(catalog);
    }

    private IReadOnlyList<Plan> Plans(IActorRef catalog)
    {
        catalog.Tell(GetPlans.Instance, TestActor);
        return ExpectMsg<PlanList>().Plans;
    }

    private Plan? Find(IActorRef catalog, string id)
    {
        catalog.Tell(new GetPlan(id), TestActor);
        return ExpectMsg<PlanFound>().Plan;
    }

    private PlanPutResult Put(IActorRef catalog, Plan plan)
    {
        catalog.Tell(new PutPlan(plan), TestActor);
        return ExpectMsg<PlanPutResult>();
    }

    private static Plan Simple(string id, decimal fee = 10m) => new(id, $"Plan {id}", "USD", fee, PlanInterval.Month,
        new Dictionary<string, decimal> { ["call"] = 100 },
        new Dictionary<string, OveragePrice> { ["call"] = new PerUnitPrice(0.1m) });

    /// <summary>A plan with every overage model, tiers with and without flat fees.</summary>
    private static readonly Plan AllModels = new("all-models", "All models", "EUR", 99.5m, PlanInterval.Year,
        new Dictionary<string, decimal> { ["call"] = 1_000, ["email"] = 0 },
        new Dictionary<string, OveragePrice>
        {
            ["lead"] = new PerUnitPrice(0.05m),
            ["email"] = new PackagePrice(10_000, 10m),
            ["call"] = new GraduatedPrice([new PriceTier(100, 0.1m), new PriceTier(null, 0.05m, 5m)]),
            ["sms"] = new VolumePrice([new PriceTier(1_000, 0.02m, 1m), new PriceTier(null, 0.01m)]),
        });

    [Fact]
    public void The_seed_is_listed_ordered_by_id()
    {
        var catalog = Start([DefaultPlans.Pro, DefaultPlans.Starter, DefaultPlans.AgencyMonthly]);
        Assert.Equal(["agency", "pro", "starter"], Plans(catalog).Select(p => p.Id));
        Assert.Equal(DefaultPlans.Pro, Find(catalog, "pro"));
    }

    [Fact]
    public void The_seed_is_persisted_once_and_changes_survive_a_restart()
    {
        var catalog = Start([Simple("basic"), Simple("plus")]);
        var changed = Simple("basic", fee: 12m);
        var put = Put(catalog, changed);
        Assert.Empty(put.Errors);
        Assert.False(put.Created);
        Assert.Equal(changed, put.Plan);
        Restart(catalog);

        // A different seed on the second start (configuration edited): the journal wins, nothing is seeded again.
        var again = Start([Simple("basic", fee: 1m), Simple("plus"), Simple("extra")]);
        var plans = Plans(again);
        Assert.Equal(["basic", "plus"], plans.Select(p => p.Id));
        Assert.Equal(12m, plans[0].Fee);
        Assert.Null(Find(again, "extra"));
    }

    [Fact]
    public void An_empty_seed_leaves_an_empty_catalog_until_a_plan_is_put()
    {
        var catalog = Start([]);
        Assert.Empty(Plans(catalog));
        Assert.True(Put(catalog, Simple("first")).Created);
        Restart(catalog);
        Assert.Equal(["first"], Plans(Start([Simple("seeded-late")])).Select(p => p.Id));
    }

    [Fact]
    public void A_catalog_recovers_from_snapshots_and_the_journal()
    {
        var catalog = Start([Simple("seed")]);
        // 1 seed event + 120 puts: snapshots at 50 and 100, events after them replayed.
        for (var i = 0; i < 120; i++)
        {
            var result = Put(catalog, Simple($"p{i % 70:D3}", fee: i));
            Assert.Empty(result.Errors);
        }
        Restart(catalog);

        var plans = Plans(Start([Simple("other")]));
        Assert.Equal(71, plans.Count);
        Assert.Equal(119m, plans.Single(p => p.Id == "p049").Fee);
        Assert.Equal(69m, plans.Single(p => p.Id == "p069").Fee);
        Assert.Contains(plans, p => p.Id == "seed");
    }

    [Fact]
    public void Put_creates_then_replaces_and_an_unchanged_plan_is_not_a_change()
    {
        var catalog = Start([Simple("basic")]);
        var created = Put(catalog, AllModels);
        Assert.True(created.Created);
        Assert.Equal(AllModels, created.Plan);
        Assert.Equal(AllModels, Find(catalog, "all-models"));

        var same = Put(catalog, AllModels);
        Assert.False(same.Created);
        Assert.Empty(same.Errors);

        var replaced = Put(catalog, AllModels with { Name = "Renamed" });
        Assert.False(replaced.Created);
        Assert.Equal("Renamed", Find(catalog, "all-models")!.Name);
    }

    [Fact]
    public void An_invalid_plan_is_refused_with_its_errors_and_changes_nothing()
    {
        var catalog = Start([Simple("basic")]);
        var invalid = Simple("basic") with
        {
            Currency = "usd",
            Fee = -1m,
            Overage = new Dictionary<string, OveragePrice> { ["call"] = new GraduatedPrice([new PriceTier(10, 0.1m)]) },
        };
        var result = Put(catalog, invalid);
        Assert.Null(result.Plan);
        Assert.False(result.Created);
        Assert.Contains(result.Errors, e => e.StartsWith("currency must be three upper-case letters"));
        Assert.Contains(result.Errors, e => e.StartsWith("fee must be >= 0"));
        Assert.Contains(result.Errors, e => e.StartsWith("overage.call: The last tier must be unbounded"));
        Assert.Equal(Simple("basic"), Find(catalog, "basic"));

        var badId = Put(catalog, Simple("no spaces allowed"));
        Assert.Contains(badId.Errors, e => e.StartsWith("id must be"));
        Assert.Null(Find(catalog, "no spaces allowed"));
        Assert.Equal(["basic"], Plans(catalog).Select(p => p.Id));
    }

    [Fact]
    public void A_missing_plan_is_found_as_null()
    {
        var catalog = Start(DefaultPlans.All);
        Assert.Null(Find(catalog, "enterprise"));
        Assert.Equal(DefaultPlans.EmailPack, Find(catalog, "email-pack"));
    }

    [Fact]
    public void An_invalid_or_duplicated_seed_is_refused_before_the_actor_starts()
    {
        var invalid = Assert.Throws<ArgumentException>(() => PlanCatalogActor.GetProps([Simple("x") with { Name = "" }], _time));
        Assert.Contains("'x'", invalid.Message);
        Assert.Contains("name is required", invalid.Message);
        Assert.Throws<ArgumentException>(() => PlanCatalogActor.GetProps([Simple("x"), Simple("x", 2m)], _time));
    }

    // Serialization

    public static TheoryData<string> Manifests => new(PlanCatalogSerializer.Manifests);

    private static readonly Dictionary<string, object> Samples = new()
    {
        ["plan-put.v1"] = new PlanPut(AllModels, T0),
        ["plan-catalog-snapshot.v1"] = new PlanCatalogSnapshot([AllModels, DefaultPlans.Pro, DefaultPlans.AgencyYearly]),
        ["get-plans.v1"] = GetPlans.Instance,
        ["plan-list.v1"] = new PlanList([AllModels, DefaultPlans.EmailPack]),
        ["get-plan.v1"] = new GetPlan("all-models"),
        ["plan-found.v1"] = new PlanFound(AllModels),
        ["put-plan.v1"] = new PutPlan(AllModels),
        ["plan-put-result.v1"] = new PlanPutResult(AllModels, true, ["a", "b"]),
    };

    [Theory]
    [MemberData(nameof(Manifests))]
    public void Every_manifest_round_trips(string manifest)
    {
        var sample = Samples[manifest];
        var serializer = Assert.IsType<PlanCatalogSerializer>(Sys.Serialization.FindSerializerFor(sample));
        Assert.Equal(PlanCatalogSerializer.Id, serializer.Identifier);
        Assert.Equal(manifest, serializer.Manifest(sample));

        var back = serializer.FromBinary(serializer.ToBinary(sample), manifest);
        Assert.IsType(sample.GetType(), back);
        switch (sample)
        {
            case PlanCatalogSnapshot s: Assert.Equal(s.Plans, ((PlanCatalogSnapshot)back).Plans); break;
            case PlanList l: Assert.Equal(l.Plans, ((PlanList)back).Plans); break;
            case PlanPutResult r:
                var result = (PlanPutResult)back;
                Assert.Equal(r.Plan, result.Plan);
                Assert.Equal(r.Created, result.Created);
                Assert.Equal(r.Errors, result.Errors);
                break;
            default: Assert.Equal(sample, back); break;
        }
    }

    [Fact]
    public void Every_manifest_has_a_sample_and_every_price_model_is_in_the_samples()
    {
        Assert.Equal(PlanCatalogSerializer.Manifests.Order(), Samples.Keys.Order());
        Assert.Equal(
            [typeof(GraduatedPrice), typeof(PackagePrice), typeof(PerUnitPrice), typeof(VolumePrice)],
            AllModels.Overage.Values.Select(p => p.GetType()).OrderBy(t => t.Name));
    }

    [Fact]
    public void A_stored_plan_put_is_read_with_the_model_anywhere_in_the_price()
    {
        var serializer = (SerializerWithStringManifest)Sys.Serialization.FindSerializerForType(typeof(PlanPut));
        var json = """
            {"at":"2026-11-27T10:00:00+00:00","plan":{"id":"p","name":"P","currency":"USD","fee":1,"interval":"month",
             "quotas":{},"overage":{"call":{"unitPrice":0.5,"model":"per_unit"}}}}
            """;
        var e = (PlanPut)serializer.FromBinary(Encoding.UTF8.GetBytes(json), "plan-put.v1");
        Assert.Equal(new PerUnitPrice(0.5m), e.Plan.Overage["call"]);
        Assert.Equal(T0, e.At);
    }

    // Configuration

    private static IConfiguration Json(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    [Fact]
    public void No_configured_plans_means_the_default_catalog()
    {
        Assert.Same(DefaultPlans.All, PlanCatalogHostingExtensions.PlansFrom(new ConfigurationBuilder().Build()));
        Assert.Same(DefaultPlans.All, PlanCatalogHostingExtensions.PlansFrom(Json("""{"Metering":{"Plans":[]}}""")));
    }

    [Fact]
    public void Plans_are_read_from_configuration_in_the_contract_shape()
    {
        var configuration = Json("""
            {"Metering":{"Plans":[
              {"id":"all-models","name":"All models","currency":"EUR","fee":99.5,"interval":"year",
               "quotas":{"call":1000,"email":0},
               "overage":{
                 "lead":{"model":"per_unit","unitPrice":0.05},
                 "email":{"packageSize":10000,"model":"package","packagePrice":10},
                 "call":{"model":"graduated","tiers":[{"upTo":100,"unitPrice":0.1},{"upTo":null,"unitPrice":0.05,"flatFee":5}]},
                 "sms":{"tiers":[{"upTo":1000,"unitPrice":0.02,"flatFee":1},{"unitPrice":0.01}],"model":"volume"}}},
              {"id":"free","name":"Free","currency":"USD","fee":0,"interval":"month","quotas":{},"overage":{}}
            ]}}
            """);
        var plans = PlanCatalogHostingExtensions.PlansFrom(configuration);
        Assert.Equal(2, plans.Count);
        Assert.Equal(AllModels, plans[0]);
        Assert.Equal(new Plan("free", "Free", "USD", 0, PlanInterval.Month, new Dictionary<string, decimal>(), new Dictionary<string, OveragePrice>()), plans[1]);
    }

    [Fact]
    public void Plans_are_read_from_flat_keys_like_environment_variables()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Metering:Plans:1:Id"] = "second",
            ["Metering:Plans:1:Name"] = "Second",
            ["Metering:Plans:1:Currency"] = "USD",
            ["Metering:Plans:1:Fee"] = "5",
            ["Metering:Plans:1:Interval"] = "month",
            ["Metering:Plans:1:Quotas:call"] = "10",
            ["Metering:Plans:1:Overage:call:Model"] = "per_unit",
            ["Metering:Plans:1:Overage:call:UnitPrice"] = "0.25",
            ["Metering:Plans:0:Id"] = "first",
            ["Metering:Plans:0:Name"] = "First",
            ["Metering:Plans:0:Currency"] = "USD",
            ["Metering:Plans:0:Fee"] = "1.5",
            ["Metering:Plans:0:Interval"] = "year",
            ["Metering:Plans:0:Quotas:0"] = "7",
            ["Metering:Plans:0:Overage:0:Model"] = "volume",
            ["Metering:Plans:0:Overage:0:Tiers:0:UpTo"] = "10",
            ["Metering:Plans:0:Overage:0:Tiers:0:UnitPrice"] = "1",
            ["Metering:Plans:0:Overage:0:Tiers:1:UnitPrice"] = "0.5",
        }).Build();
        var plans = PlanCatalogHostingExtensions.PlansFrom(configuration);
        Assert.Equal(["first", "second"], plans.Select(p => p.Id));
        // Quotas and overage are maps by meter even when a meter is called "0".
        Assert.Equal(7m, plans[0].Quotas["0"]);
        Assert.Equal(new VolumePrice([new PriceTier(10, 1m), new PriceTier(null, 0.5m)]), plans[0].Overage["0"]);
        Assert.Equal(new PerUnitPrice(0.25m), plans[1].Overage["call"]);
        Assert.Equal(1.5m, plans[0].Fee);
    }

    [Fact]
    public void An_invalid_configured_plan_fails_the_start_naming_the_plan()
    {
        var invalid = Assert.Throws<InvalidOperationException>(() => PlanCatalogHostingExtensions.PlansFrom(Json("""
            {"Metering":{"Plans":[{"id":"cheap","name":"Cheap","currency":"US","fee":1,"interval":"month","quotas":{},"overage":{}}]}}
            """)));
        Assert.Contains("'cheap'", invalid.Message);
        Assert.Contains("currency must be three upper-case letters", invalid.Message);

        var noModel = Assert.Throws<InvalidOperationException>(() => PlanCatalogHostingExtensions.PlansFrom(Json("""
            {"Metering":{"Plans":[{"id":"nomodel","name":"N","currency":"USD","fee":1,"interval":"month","quotas":{},"overage":{"call":{"unitPrice":1}}}]}}
            """)));
        Assert.Contains("'nomodel'", noModel.Message);
        Assert.Contains("model", noModel.Message);

        var unknownModel = Assert.Throws<InvalidOperationException>(() => PlanCatalogHostingExtensions.PlansFrom(Json("""
            {"Metering":{"Plans":[{"id":"weird","name":"W","currency":"USD","fee":1,"interval":"month","quotas":{},"overage":{"call":{"model":"magic","unitPrice":1}}}]}}
            """)));
        Assert.Contains("'weird'", unknownModel.Message);
        Assert.Contains("must be one of per_unit, package, graduated or volume", unknownModel.Message);

        var duplicate = Assert.Throws<InvalidOperationException>(() => PlanCatalogHostingExtensions.PlansFrom(Json("""
            {"Metering":{"Plans":[
              {"id":"twice","name":"A","currency":"USD","fee":1,"interval":"month","quotas":{},"overage":{}},
              {"id":"twice","name":"B","currency":"USD","fee":2,"interval":"month","quotas":{},"overage":{}}]}}
            """)));
        Assert.Contains("'twice'", duplicate.Message);
    }
}
