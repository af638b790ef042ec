using System.Security.Cryptography;
using System.Text;
using Metering.Domain.Accounts;

namespace Metering.Host.Auth;

/// <summary>
/// Seals secrets the engine must be able to use again (webhook signing secrets) before they reach
/// the journal: AES-256-GCM under <c>Metering:Secrets:Key</c> (32 bytes, base64), else a key generated
/// once into the data folder (owner-only), like the admin key. A cluster sets the key in configuration
/// so every node can open what any node sealed.
/// </summary>
public sealed class SecretBox
{
    private const string Version = "v1:";
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private readonly byte[] _key;

    private SecretBox(byte[] key) => _key = key;

    public static SecretBox Load(string? configured, string dataDir)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            var key = Convert.FromBase64String(configured.Trim());
            return key.Length == 32 ? new SecretBox(key) : throw new InvalidOperationException("Metering:Secrets:Key must be 32 bytes in base64.");
        }
        var path = Path.Combine(dataDir, "secrets.key");
        if (File.Exists(path)) return new SecretBox(Convert.FromBase64String(File.ReadAllText(path).Trim()));
        Directory.CreateDirectory(dataDir);
        var generated = RandomNumberGenerator.GetBytes(32);
        File.WriteAllText(path, Convert.ToBase64String(generated));
        if (!OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new SecretBox(generated);
    }

    public string Seal(string secret)
    {
        var plain = Encoding.UTF8.GetBytes(secret);
        var sealedBytes = new byte[NonceBytes + plain.Length + TagBytes];
        var nonce = sealedBytes.AsSpan(0, NonceBytes);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagBytes);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(NonceBytes, plain.Length), sealedBytes.AsSpan(NonceBytes + plain.Length));
        return NotificationSettings.SealedPrefix + Version + Convert.ToBase64String(sealedBytes);
    }

    /// <summary>The secret; a value saved before sealing existed is used as it is. Null when it cannot be opened (another key).</summary>
    public string? Open(string stored)
    {
        if (!stored.StartsWith(NotificationSettings.SealedPrefix + Version, StringComparison.Ordinal)) return stored;
        try
        {
            var bytes = Convert.FromBase64String(stored[(NotificationSettings.SealedPrefix.Length + Version.Length)..]);
            var plain = new byte[bytes.Length - NonceBytes - TagBytes];
            using var aes = new AesGcm(_key, TagBytes);
            aes.Decrypt(bytes.AsSpan(0, NonceBytes), bytes.AsSpan(NonceBytes, plain.Length), bytes.AsSpan(NonceBytes + plain.Length), plain);
            return Encoding.UTF8.GetString(plain);
        }
        catch (Exception e) when (e is FormatException or CryptographicException or OverflowException or ArgumentException)
        {
            return null;
        }
    }
}
