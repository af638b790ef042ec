using System.Globalization;
using System.Runtime.Serialization;
using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;

namespace Metering.Accounts.Serialization;

/// <summary>
/// Explicit, versioned wire and journal format: every type has a manifest with a version suffix
/// (<c>usage-recorded.v1</c>). A new shape gets a new manifest while the old one keeps being read,
/// so journals written by older versions replay. Nothing falls back to Akka's default serializer.
/// </summary>
public abstract class VersionedJsonSerializer : SerializerWithStringManifest
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        // Polymorphic prices carry "model" wherever it appears in the object.
        AllowOutOfOrderMetadataProperties = true,
    };

    private readonly IReadOnlyDictionary<string, Type> _typesByManifest;
    private readonly Dictionary<Type, string> _manifestsByType;

    protected VersionedJsonSerializer(ExtendedActorSystem system, IReadOnlyDictionary<string, Type> typesByManifest) : base(system)
    {
        _typesByManifest = typesByManifest;
        // A type listed under several versions is read under each and written under the newest.
        _manifestsByType = typesByManifest.GroupBy(kv => kv.Value)
            .ToDictionary(g => g.Key, g => g.MaxBy(kv => int.Parse(kv.Key[(kv.Key.LastIndexOf(".v", StringComparison.Ordinal) + 2)..], CultureInfo.InvariantCulture)).Key);
    }

    public override string Manifest(object o) =>
        _manifestsByType.TryGetValue(o.GetType(), out var manifest)
            ? manifest
            : throw new ArgumentException($"{o.GetType()} has no manifest in {GetType().Name}", nameof(o));

    public override byte[] ToBinary(object obj) => JsonSerializer.SerializeToUtf8Bytes(obj, obj.GetType(), Json);

    public override object FromBinary(byte[] bytes, string manifest) =>
        _typesByManifest.TryGetValue(manifest, out var type)
            ? JsonSerializer.Deserialize(bytes, type, Json) ?? throw new SerializationException($"Empty {manifest}")
            : throw new SerializationException($"Unknown manifest '{manifest}' for {GetType().Name}");
}
