namespace Metering.Host;

/// <summary>Top-level <c>Metering:*</c> settings that belong to the host.</summary>
public sealed class MeteringOptions
{
    /// <summary>SQLite file and generated keys live here.</summary>
    public string DataDir { get; set; } = "./data";

    public PersistenceOptions Persistence { get; set; } = new();

    public AuthOptions Auth { get; set; } = new();

    public SecretsOptions Secrets { get; set; } = new();

    public sealed class PersistenceOptions
    {
        /// <summary><c>sqlite</c> or <c>postgres</c>.</summary>
        public string Provider { get; set; } = "sqlite";
        public string? ConnectionString { get; set; }
    }

    public sealed class SecretsOptions
    {
        /// <summary>AES-256 key (base64) that seals webhook secrets in the journal; generated into the data folder when unset.</summary>
        public string? Key { get; set; }
    }

    public sealed class AuthOptions
    {
        /// <summary>Admin API key; generated into the data folder and printed when unset.</summary>
        public string? AdminKey { get; set; }
    }
}
