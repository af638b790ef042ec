using System.Runtime.Serialization;
using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;
using Metering.Accounts.Messages;
using Metering.Domain.Accounts;

namespace Metering.Accounts.Serialization;

/// <summary>
/// Explicit, versioned wire and journal format for accounts. Each type has a manifest with a version
/// suffix; a new shape gets a new manifest and the old one keeps being read, so journals written by
/// older versions replay. Nothing falls back to Akka's default serializer.
/// </summary>
public sealed class AccountSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public const int Id = 7_341;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private static readonly Dictionary<string, Type> TypesByManifest = new()
    {
        ["usage-recorded.v1"] = typeof(UsageRecorded),
        ["account-snapshot.v1"] = typeof(AccountSnapshot),
        ["record-usage.v1"] = typeof(RecordAccountUsage),
        ["usage-accepted.v1"] = typeof(UsageAccepted),
        ["get-overview.v1"] = typeof(GetAccountOverview),
        ["overview.v1"] = typeof(AccountOverview),
    };

    private static readonly Dictionary<Type, string> ManifestsByType =
        TypesByManifest.ToDictionary(kv => kv.Value, kv => kv.Key);

    /// <summary>Types this serializer is bound to in the actor system.</summary>
    public static readonly Type[] BoundTypes = [typeof(IAccountMessage), typeof(IAccountEvent), typeof(AccountSnapshot)];

    public override int Identifier => Id;

    public override string Manifest(object o) =>
        ManifestsByType.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType()} has no account manifest", nameof(o));

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Json);

    public override object FromBinary(byte[] bytes, string manifest) =>
        TypesByManifest.TryGetValue(manifest, out var type)
            ? JsonSerializer.Deserialize(bytes, type, Json) ?? throw new SerializationException($"Empty {manifest}")
            : throw new SerializationException($"Unknown account manifest '{manifest}'");
}
