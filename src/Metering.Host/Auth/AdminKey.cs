using System.Security.Cryptography;
using System.Text;

namespace Metering.Host.Auth;

/// <summary>
/// The admin API key: from configuration, else generated once into the data folder (owner-only
/// permissions) so it survives restarts. Compared in constant time by its hash.
/// </summary>
public sealed class AdminKey
{
    private readonly byte[] _hash;

    private AdminKey(string value, bool generated)
    {
        Value = value;
        Generated = generated;
        _hash = SHA256.HashData(Encoding.UTF8.GetBytes(value));
    }

    /// <summary>How the admin key is named in rate-limit partitions and logs.</summary>
    public const string Id = "admin";

    public string Value { get; }
    /// <summary>True when the engine made this key (so it is worth printing).</summary>
    public bool Generated { get; }

    public static AdminKey Load(string? configured, string dataDir)
    {
        if (!string.IsNullOrWhiteSpace(configured)) return new AdminKey(configured, generated: false);
        var path = Path.Combine(dataDir, "admin.key");
        if (File.Exists(path)) return new AdminKey(File.ReadAllText(path).Trim(), generated: true);
        Directory.CreateDirectory(dataDir);
        var key = "mk_admin_" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));
        File.WriteAllText(path, key);
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new AdminKey(key, generated: true);
    }

    public bool Matches(string? presented) =>
        presented is not null
        && CryptographicOperations.FixedTimeEquals(_hash, SHA256.HashData(Encoding.UTF8.GetBytes(presented)));
}
