using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Metering.Domain.Plans;
using Microsoft.Extensions.Configuration;

namespace Metering.Billing.Plans;

/// <summary>Registry key for the proxy to the plan catalog singleton.</summary>
public sealed class PlanCatalogSingleton;

/// <summary>The plan catalog in the actor system, and its seed from configuration.</summary>
public static class PlanCatalogHostingExtensions
{
    public const string SingletonName = "plan-catalog";
    public const string ConfigurationSection = "Metering:Plans";

    /// <summary>
    /// The explicit serializer and the catalog as a cluster singleton (one writer in the cluster), with a proxy
    /// registered under <see cref="PlanCatalogSingleton"/> on every node.
    /// </summary>
    /// <param name="seed">Persisted on the catalog's very first start only (see <see cref="PlanCatalogActor"/>).</param>
    public static AkkaConfigurationBuilder AddMeteringPlanCatalog(this AkkaConfigurationBuilder builder, IReadOnlyList<Plan> seed, TimeProvider time)
    {
        var props = PlanCatalogActor.GetProps(seed, time); // validates the seed before the system starts
        return builder
            .WithCustomSerializer("metering-plans", PlanCatalogSerializer.BoundTypes, system => new PlanCatalogSerializer(system))
            .WithSingleton<PlanCatalogSingleton>(
                SingletonName,
                props,
                new ClusterSingletonOptions
                {
                    // Waits behind a pending journal write, unlike PoisonPill.
                    TerminationMessage = PlanCatalogActor.Stop.Instance,
                },
                createProxyToo: true);
    }

    // Configuration values are all strings: numbers are read from strings, "" (a JSON null in appsettings) is null.
    private static readonly JsonSerializerOptions ConfigJson = new(JsonSerializerDefaults.Web)
    {
        AllowOutOfOrderMetadataProperties = true,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
    };

    /// <summary>
    /// The plans under <c>Metering:Plans</c>: an array of plans in the contract JSON shape (the same as
    /// <c>PUT /api/v1/plans/{id}</c>, overage prices with their <c>model</c>), from any configuration source
    /// (appsettings, <c>Metering__Plans__0__Id</c> environment variables, ...). <see cref="DefaultPlans.All"/> when
    /// the section is empty.
    /// </summary>
    /// <exception cref="InvalidOperationException">A configured plan cannot be read or is invalid, or two share an id;
    /// the message names the plan and what is wrong.</exception>
    public static IReadOnlyList<Plan> PlansFrom(IConfiguration configuration)
    {
        var section = configuration.GetSection(ConfigurationSection);
        var entries = section.GetChildren().ToList();
        if (entries.Count == 0) return DefaultPlans.All;

        var plans = new List<Plan>(entries.Count);
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var entry in entries.OrderBy(e => int.TryParse(e.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : int.MaxValue))
        {
            var where = $"{ConfigurationSection}:{entry.Key}";
            var node = ToJson(entry, propertyName: null);
            if (node is not JsonObject obj)
                throw new InvalidOperationException($"{where} is not a plan: {ConfigurationSection} is an array of plan objects.");
            var label = obj.TryGetPropertyValue("id", out var idNode) && idNode is JsonValue idValue && idValue.TryGetValue<string>(out var id)
                ? $"{where} (plan '{id}')"
                : where;

            Plan? plan;
            try
            {
                plan = obj.Deserialize<Plan>(ConfigJson);
            }
            catch (Exception e) when (e is JsonException or NotSupportedException)
            {
                throw new InvalidOperationException($"{label} cannot be read: {ReadError(e)}", e);
            }
            if (plan is null) throw new InvalidOperationException($"{label} is empty.");

            var errors = plan.Validate();
            if (errors.Count > 0)
                throw new InvalidOperationException($"{label} is invalid: {string.Join(" ", errors)}");
            if (!ids.Add(plan.Id))
                throw new InvalidOperationException($"{label}: another configured plan has the id '{plan.Id}'.");
            plans.Add(plan);
        }
        return plans;
    }

    /// <summary>
    /// What went wrong reading a plan (a <see cref="JsonException"/> or <see cref="NotSupportedException"/> from
    /// System.Text.Json), in the contract's words: a price without <c>model</c> makes System.Text.Json complain about
    /// abstract types, an unknown one about discriminators; say what is expected instead.
    /// </summary>
    public static string ReadError(Exception e) => e switch
    {
        NotSupportedException when e.Message.Contains("OveragePrice", StringComparison.Ordinal) =>
            $"every overage price needs a \"model\": {Models}. ({e.Message})",
        JsonException when e.Message.Contains("type discriminator", StringComparison.Ordinal) =>
            $"an overage price's \"model\" must be one of {Models}. ({e.Message})",
        _ => e.Message,
    };

    private const string Models = "per_unit, package, graduated or volume";

    /// <summary>
    /// A configuration section as JSON. A section whose keys are 0..n-1 is an array, except the values of
    /// <c>quotas</c> and <c>overage</c>, which are always maps keyed by meter.
    /// </summary>
    private static JsonNode? ToJson(IConfigurationSection section, string? propertyName)
    {
        var children = section.GetChildren().ToList();
        var isMap = propertyName is not null
            && (propertyName.Equals("quotas", StringComparison.OrdinalIgnoreCase) || propertyName.Equals("overage", StringComparison.OrdinalIgnoreCase));
        if (children.Count == 0)
        {
            // An empty JSON object in appsettings arrives as a key with no value: "quotas": {} is an empty map.
            if (string.IsNullOrEmpty(section.Value)) return isMap ? new JsonObject() : null;
            return JsonValue.Create(section.Value);
        }

        var indexes = children.Select(c => int.TryParse(c.Key, NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : -1).ToList();
        if (!isMap && indexes.Order().SequenceEqual(Enumerable.Range(0, children.Count)))
        {
            var array = new JsonArray();
            foreach (var child in children.Select((c, n) => (Child: c, Index: indexes[n])).OrderBy(p => p.Index).Select(p => p.Child))
                array.Add(ToJson(child, propertyName: null));
            return array;
        }

        var obj = new JsonObject();
        foreach (var child in children)
        {
            // System.Text.Json matches the "model" discriminator case-sensitively; configuration keys are not
            // (Metering__Plans__0__Overage__call__Model). Meter keys in a map are kept as written.
            var name = !isMap && child.Key.Equals("model", StringComparison.OrdinalIgnoreCase) ? "model" : child.Key;
            obj[name] = ToJson(child, child.Key);
        }
        return obj;
    }
}
