using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Metering.Ingestion.Kafka;

/// <summary>
/// An in-process Kafka broker: librdkafka's mock cluster, listening on loopback TCP. Real clients
/// (Confluent.Kafka, kcat) can produce, consume, join consumer groups and commit offsets against it.
/// Everything lives in memory and is gone when the broker is disposed.
/// </summary>
/// <remarks>
/// There is deliberately no finalizer: the broker must live as long as whoever uses
/// <see cref="BootstrapServers"/>, which the garbage collector cannot see.
/// </remarks>
public sealed class EmbeddedKafkaBroker : IDisposable
{
    private const int BrokerId = 1; // the mock cluster numbers its brokers from 1

    private readonly Lock _gate = new();
    private readonly int _brokerCount;
    private IntPtr _handle;   // rd_kafka_t* the mock cluster is attached to
    private IntPtr _cluster;  // rd_kafka_mock_cluster_t*
    private CancellationTokenSource? _stopFreeing;
    private Task _freeing = Task.CompletedTask;

    private EmbeddedKafkaBroker(IntPtr handle, IntPtr cluster, string bootstrapServers, int brokerCount)
    {
        _handle = handle;
        _cluster = cluster;
        _brokerCount = brokerCount;
        BootstrapServers = bootstrapServers;
    }

    /// <summary>Comma-separated <c>host:port</c> list of the mock brokers.</summary>
    public string BootstrapServers { get; }

    public static EmbeddedKafkaBroker Start(int brokerCount = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerCount, 1);
        Librdkafka.EnsureLoaded();

        var handle = MockClusterNative.NewHandle();
        var cluster = MockClusterNative.rd_kafka_mock_cluster_new(handle, brokerCount);
        if (cluster == IntPtr.Zero)
        {
            MockClusterNative.rd_kafka_destroy(handle);
            throw new InvalidOperationException("librdkafka could not start the mock cluster (rd_kafka_mock_cluster_new returned NULL).");
        }

        // The string belongs to the cluster: copy it now, while the cluster is certainly alive.
        var bootstraps = Marshal.PtrToStringUTF8(MockClusterNative.rd_kafka_mock_cluster_bootstraps(cluster));
        if (string.IsNullOrEmpty(bootstraps))
        {
            MockClusterNative.rd_kafka_mock_cluster_destroy(cluster);
            MockClusterNative.rd_kafka_destroy(handle);
            throw new InvalidOperationException("librdkafka's mock cluster reported no bootstrap servers.");
        }
        return new EmbeddedKafkaBroker(handle, cluster, bootstraps, brokerCount);
    }

    /// <summary>
    /// A broker with the engine's topics (<see cref="KafkaTopics.Specs"/>) that frees the usage the
    /// engine's consumer group has committed (<see cref="FreeCommitted"/>).
    /// </summary>
    public static EmbeddedKafkaBroker StartForEngine(KafkaOptions options)
    {
        var broker = Start();
        foreach (var (name, partitions) in KafkaTopics.Specs(options))
            broker.CreateTopic(name, partitions);
        broker.FreeCommitted(options.UsageTopic, options.ConsumerGroup);
        return broker;
    }

    /// <summary>
    /// Creates <paramref name="name"/> with <paramref name="partitions"/> partitions, replicated on up
    /// to three of the brokers.
    /// </summary>
    /// <exception cref="InvalidOperationException">librdkafka refused, e.g. <c>ERR_TOPIC_ALREADY_EXISTS</c>.</exception>
    public void CreateTopic(string name, int partitions)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);
            var err = MockClusterNative.rd_kafka_mock_topic_create(_cluster, name, partitions, Math.Min(_brokerCount, 3));
            if (err != 0)
            {
                var errName = Marshal.PtrToStringUTF8(MockClusterNative.rd_kafka_err2name(err)) ?? err.ToString();
                throw new InvalidOperationException($"Could not create topic '{name}' on the embedded broker: {errName}.");
            }
        }
    }

    /// <summary>
    /// Makes the (single) broker announce <paramref name="host"/>:<paramref name="port"/> in metadata
    /// instead of the port it listens on, for a forwarder in front of it: the mock broker cannot be
    /// told which port to listen on, and clients connect to what metadata announces.
    /// </summary>
    public void Advertise(string host, int port)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        if (_brokerCount != 1) throw new InvalidOperationException("Only a single-broker cluster can be advertised on one address.");
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);
            MockClusterNative.rd_kafka_mock_broker_set_host_port(_cluster, BrokerId, host, port);
        }
    }

    /// <summary>How often <see cref="FreeCommitted"/> looks at the group's offsets.</summary>
    public static readonly TimeSpan FreeInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// From now on deletes the records of <paramref name="topic"/> that <paramref name="consumerGroup"/>
    /// has committed past, every <see cref="FreeInterval"/>. The mock broker keeps every record in memory
    /// until a partition passes 5 MB, and finds a fetch's records by walking the partition's message sets
    /// from the oldest, so records the engine has made durable only cost memory and CPU on every fetch
    /// (a third of the process's CPU at a paced 20,000 events/s: docs/benchmarks.md, session 18). A
    /// real broker keeps them by its retention instead; here other groups that read the topic later find
    /// its log starting at the engine's committed offsets.
    /// </summary>
    public void FreeCommitted(string topic, string consumerGroup)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentException.ThrowIfNullOrEmpty(consumerGroup);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_cluster == IntPtr.Zero, this);
            if (_stopFreeing is not null) throw new InvalidOperationException("The broker already frees committed records.");
            _stopFreeing = new CancellationTokenSource();
            var stop = _stopFreeing.Token;
            _freeing = Task.Run(() => FreeCommittedAsync(topic, consumerGroup, stop));
        }
    }

    private async Task FreeCommittedAsync(string topic, string consumerGroup, CancellationToken stop)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers }).Build();
        var options = new Confluent.Kafka.Admin.ListConsumerGroupOffsetsOptions { RequestTimeout = TimeSpan.FromSeconds(1) };
        ConsumerGroupTopicPartitions[]? everyPartition = null;
        var freedBefore = new Dictionary<int, long>();
        using var timer = new PeriodicTimer(FreeInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop))
            {
                List<Confluent.Kafka.Admin.ListConsumerGroupOffsetsResult> groups;
                try
                {
                    everyPartition ??= PartitionsOf(admin, topic, consumerGroup);
                    if (everyPartition is null) continue;
                    groups = await admin.ListConsumerGroupOffsetsAsync(everyPartition, options);
                }
                catch (KafkaException)
                {
                    continue; // no coordinator or no group yet: nothing is committed to free
                }
                foreach (var committed in groups.SelectMany(g => g.Partitions))
                {
                    if (committed.Error.IsError || committed.Offset.Value <= freedBefore.GetValueOrDefault(committed.Partition.Value)) continue;
                    lock (_gate)
                    {
                        if (_cluster == IntPtr.Zero) return;
                        if (MockClusterNative.rd_kafka_mock_partition_delete_records(_cluster, topic, committed.Partition.Value, committed.Offset.Value) != 0) continue;
                    }
                    freedBefore[committed.Partition.Value] = committed.Offset.Value;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    /// <summary>The group's partitions of the topic, named one by one (asked for all of a group's partitions at once, the mock answers none); null while the topic has none.</summary>
    private static ConsumerGroupTopicPartitions[]? PartitionsOf(IAdminClient admin, string topic, string consumerGroup)
    {
        List<TopicPartition> partitions = [.. admin.GetMetadata(topic, TimeSpan.FromSeconds(1)).Topics
            .Where(t => t.Error.Code == ErrorCode.NoError)
            .SelectMany(t => t.Partitions).Select(p => new TopicPartition(topic, p.PartitionId))];
        return partitions.Count == 0 ? null : [new(consumerGroup, partitions)];
    }

    /// <summary>Stops the brokers (clients then see the connections drop). Safe to call more than once.</summary>
    public void Dispose()
    {
        Task freeing;
        lock (_gate)
        {
            _stopFreeing?.Cancel();
            freeing = _freeing;
        }
        // Outside the gate, which the loop takes to delete; it ends within one admin request.
        freeing.GetAwaiter().GetResult();
        lock (_gate)
        {
            _stopFreeing?.Dispose();
            _stopFreeing = null;
            if (_cluster != IntPtr.Zero)
            {
                MockClusterNative.rd_kafka_mock_cluster_destroy(_cluster);
                _cluster = IntPtr.Zero;
            }
            if (_handle != IntPtr.Zero)
            {
                MockClusterNative.rd_kafka_destroy(_handle);
                _handle = IntPtr.Zero;
            }
        }
    }
}

/// <summary>The slice of librdkafka's C API (rdkafka.h, rdkafka_mock.h) the embedded broker needs.</summary>
internal static unsafe partial class MockClusterNative
{
    private const string Lib = Librdkafka.LibraryName;
    private const int RdKafkaProducer = 0; // RD_KAFKA_PRODUCER
    private const int RdKafkaConfOk = 0;   // RD_KAFKA_CONF_OK

    /// <summary>A bare producer handle to host the mock cluster; it never connects anywhere itself.</summary>
    internal static IntPtr NewHandle()
    {
        const int errSize = 512;
        var errstr = stackalloc byte[errSize];
        var conf = rd_kafka_conf_new();
        if (conf == IntPtr.Zero)
            throw new InvalidOperationException("rd_kafka_conf_new returned NULL.");

        // Warnings and errors only: the host handle has no bootstrap.servers on purpose, and the notice
        // librdkafka prints about that would only confuse.
        if (rd_kafka_conf_set(conf, "log_level", "4", errstr, errSize) != RdKafkaConfOk)
        {
            rd_kafka_conf_destroy(conf);
            throw new InvalidOperationException($"rd_kafka_conf_set failed: {Marshal.PtrToStringUTF8((IntPtr)errstr)}");
        }

        var rk = rd_kafka_new(RdKafkaProducer, conf, errstr, errSize);
        if (rk == IntPtr.Zero)
        {
            // rd_kafka_new only takes ownership of conf when it succeeds.
            rd_kafka_conf_destroy(conf);
            throw new InvalidOperationException($"rd_kafka_new failed: {Marshal.PtrToStringUTF8((IntPtr)errstr)}");
        }
        return rk;
    }

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_conf_new();

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_conf_destroy(IntPtr conf);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_conf_set(IntPtr conf, string name, string value, byte* errstr, nuint errstrSize);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_new(int type, IntPtr conf, byte* errstr, nuint errstrSize);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_destroy(IntPtr rk);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_err2name(int err);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [LibraryImport(Lib)]
    internal static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_topic_create(IntPtr mcluster, string topic, int partitionCount, int replicationFactor);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void rd_kafka_mock_broker_set_host_port(IntPtr mcluster, int brokerId, string host, int port);

    [LibraryImport(Lib)]
    internal static partial void rd_kafka_mock_cluster_destroy(IntPtr mcluster);

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int rd_kafka_mock_partition_delete_records(IntPtr mcluster, string topic, int partition, long beforeOffset);
}
