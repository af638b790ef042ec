namespace Metering.Accounts.Cluster;

/// <summary>Where this node lives in the Akka cluster (<c>Metering:Cluster:*</c>).</summary>
public sealed class ClusterSettings
{
    /// <summary>Address other nodes reach this one on. Loopback for the single-node default.</summary>
    public string Hostname { get; set; } = "127.0.0.1";

    /// <summary>Remoting port; 0 picks a free one (single node only: peers could not find it).</summary>
    public int Port { get; set; }

    /// <summary>Akka addresses of seed nodes, e.g. <c>akka.tcp://metering@node-0:4053</c>. Empty: the node forms a cluster of its own.</summary>
    public string[] SeedNodes { get; set; } = [];

    public string[] Roles { get; set; } = [];
}
