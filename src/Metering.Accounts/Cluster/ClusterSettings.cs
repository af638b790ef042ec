using System.Reflection;

namespace Metering.Accounts.Cluster;

/// <summary>Where this node lives in the Akka cluster (<c>Metering:Cluster:*</c>).</summary>
public sealed class ClusterSettings
{
    /// <summary>Interface remoting binds to, and the address peers reach unless <see cref="PublicHostname"/> is set. Loopback for the single-node default.</summary>
    public string Hostname { get; set; } = "127.0.0.1";

    /// <summary>Address peers reach this node on when it differs from the bound one (e.g. bind <c>0.0.0.0</c>, advertise the pod IP).</summary>
    public string? PublicHostname { get; set; }

    /// <summary>Remoting port; 0 picks a free one (single node only: peers could not find it).</summary>
    public int Port { get; set; }

    /// <summary>Akka addresses of seed nodes, e.g. <c>akka.tcp://metering@node-0:4053</c>. Empty and no discovery: the node forms a cluster of its own.</summary>
    public string[] SeedNodes { get; set; } = [];

    public string[] Roles { get; set; } = [];

    /// <summary>
    /// Version this node announces to the cluster. Sharding allocates new shards only to the nodes
    /// with the newest version (so a rolling upgrade drains the old ones). Defaults to the engine's
    /// own version rather than Akka's default, the entry assembly's, which differs between the
    /// engine and a process that hosts it (a test runner).
    /// </summary>
    public string AppVersion { get; set; } = EngineVersion;

    public static string EngineVersion { get; } =
        typeof(ClusterSettings).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "1.0.0";

    /// <summary>
    /// How long the split-brain resolver waits for a stable membership before it downs unreachable
    /// nodes (<c>akka.cluster.split-brain-resolver.stable-after</c>). Shards of a crashed node move
    /// only after this: shorter recovers sooner, longer survives longer pauses (GC, network) without
    /// downing a healthy node.
    /// </summary>
    public TimeSpan StableAfter { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Co-locate account shards with Kafka partitions: an account's shard is the usage-topic partition
    /// its key goes to, and each shard lives on the node whose consumer holds that partition (external
    /// shard allocation, updated on every rebalance of the consumer group), so a consumed batch is
    /// persisted without a remoting hop. Off by default: measured, it saves little, and it moves shards
    /// on every consumer rebalance (docs/benchmarks.md). The shard count becomes the partition count;
    /// switch it only with a full restart of the cluster.
    /// </summary>
    public bool ColocatePartitions { get; set; }

    /// <summary>Cluster formation through Akka.Management cluster bootstrap instead of seed nodes.</summary>
    public DiscoverySettings Discovery { get; set; } = new();

    /// <summary>The address peers use for this node.</summary>
    public string AdvertisedHostname => string.IsNullOrWhiteSpace(PublicHostname) ? Hostname : PublicHostname;
}

/// <summary><c>Metering:Cluster:Discovery:*</c>: how nodes find each other when no seed nodes are given.</summary>
public sealed class DiscoverySettings
{
    public const string None = "none";
    public const string Config = "config";
    public const string Kubernetes = "kubernetes";

    /// <summary><c>none</c> (seed nodes or a cluster of one), <c>config</c> (a fixed list of management endpoints, for compose) or <c>kubernetes</c> (pods found through the Kubernetes API).</summary>
    public string Method { get; set; } = None;

    /// <summary>Name looked up in discovery; with <c>kubernetes</c> it fills the <c>{0}</c> of <see cref="PodLabelSelector"/>.</summary>
    public string ServiceName { get; set; } = "metering";

    /// <summary>Akka.Management HTTP port bootstrap probes on every node.</summary>
    public int ManagementPort { get; set; } = 8558;

    /// <summary>Interface the management HTTP server binds to; empty uses <see cref="ClusterSettings.Hostname"/>.</summary>
    public string? ManagementBindHostname { get; set; }

    /// <summary>With <c>config</c>: every node's management endpoint, <c>host:port</c>.</summary>
    public string[] Endpoints { get; set; } = [];

    /// <summary>With <c>kubernetes</c>: label selector of the engine's pods.</summary>
    public string PodLabelSelector { get; set; } = "app={0}";

    /// <summary>With <c>kubernetes</c>: namespace to search; empty reads the pod's own namespace.</summary>
    public string? PodNamespace { get; set; }

    /// <summary>Contact points that must be found before a new cluster is formed (the lowest address forms it). Set to the replica count to avoid two clusters on a cold start.</summary>
    public int RequiredContactPoints { get; set; } = 2;

    public bool Enabled => !string.Equals(Method, None, StringComparison.OrdinalIgnoreCase);
}
