using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Metering.Ingestion.Kafka;

namespace Metering.Host;

/// <summary>
/// <c>Metering.Host broker [--port N] [--partitions N]</c>: the embedded Kafka broker alone, in a
/// process of its own, with the engine's topics. Engines started with
/// <c>Metering:Kafka:BootstrapServers</c> pointing at it can be killed and restarted while the
/// topics, offsets and consumer groups (kept in this process's memory) live on.
/// </summary>
/// <remarks>
/// A mode of the host binary rather than a separate tool, so it ships wherever the engine does (the
/// container image, a published folder) and runs the very librdkafka build the engine loads.
/// </remarks>
public static class BrokerCommand
{
    public const string Name = "broker";

    /// <summary>The line a supervisor (or a test) reads the address from.</summary>
    public const string BootstrapPrefix = "Kafka bootstrap: ";

    private const string Usage = "usage: Metering.Host broker [--port <tcp port, default any free one>] [--partitions <usage topic partitions, default 8>] [--group <the engines' consumer group, default metering>]";

    public static async Task<int> RunAsync(string[] args)
    {
        if (!TryParse(args, out var port, out var options, out var error))
        {
            await Console.Error.WriteLineAsync($"{error}\n{Usage}");
            return 2;
        }

        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

        using var broker = EmbeddedKafkaBroker.StartForEngine(options);

        var bootstrap = broker.BootstrapServers;
        Task forwarding = Task.CompletedTask;
        if (port is { } fixedPort)
        {
            // librdkafka's mock broker always listens on a port of its own choosing; a fixed port is a
            // forwarder in front of it, advertised in metadata so clients never see the inner port.
            var forwarder = new TcpListener(IPAddress.Loopback, fixedPort);
            forwarder.Start();
            broker.Advertise(IPAddress.Loopback.ToString(), fixedPort);
            forwarding = ForwardAsync(forwarder, broker.BootstrapServers, stop.Token);
            bootstrap = $"{IPAddress.Loopback}:{fixedPort}";
        }

        Console.WriteLine($"""
            Metering embedded Kafka broker (librdkafka mock cluster, in memory) is running
              {BootstrapPrefix}{bootstrap}
              Topics:          {string.Join(", ", KafkaTopics.Specs(options).Select(t => $"{t.Name} ({t.Partitions})"))}
              Usage is freed from memory once consumer group {options.ConsumerGroup} has committed it.
            Start engines with Metering__Kafka__BootstrapServers={bootstrap}. Ctrl-C stops it; everything it holds is lost.
            """);

        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
        }
        await forwarding;
        return 0;

        void Stop(PosixSignalContext context)
        {
            // Ours to end: return from RunAsync and dispose the broker rather than die mid-write.
            context.Cancel = true;
            stop.Cancel();
        }
    }

    private static bool TryParse(string[] args, out int? port, out KafkaOptions options, out string error)
    {
        port = null;
        options = new KafkaOptions();
        error = "";
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            switch (args[i])
            {
                case "--port" when int.TryParse(value, out var p) && p is > 0 and <= IPEndPoint.MaxPort:
                    port = p;
                    i++;
                    break;
                case "--partitions" when int.TryParse(value, out var n) && n > 0:
                    options.UsagePartitions = n;
                    i++;
                    break;
                case "--group" when !string.IsNullOrWhiteSpace(value):
                    options.ConsumerGroup = value;
                    i++;
                    break;
                default:
                    error = $"unexpected or invalid argument '{args[i]}'";
                    return false;
            }
        }
        return true;
    }

    private static async Task ForwardAsync(TcpListener listener, string target, CancellationToken ct)
    {
        var separator = target.LastIndexOf(':');
        var host = target[..separator];
        var port = int.Parse(target[(separator + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var connections = new List<Task>();
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var client = await listener.AcceptTcpClientAsync(ct);
                connections.Add(PipeAsync(client, host, port, ct));
                connections.RemoveAll(t => t.IsCompleted);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            listener.Stop();
        }
        await Task.WhenAll(connections);
    }

    private static async Task PipeAsync(TcpClient client, string host, int port, CancellationToken ct)
    {
        using var inbound = client;
        using var outbound = new TcpClient { NoDelay = true };
        inbound.NoDelay = true;
        try
        {
            await outbound.ConnectAsync(host, port, ct);
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var a = inbound.GetStream();
            var b = outbound.GetStream();
            // Either side closing ends the pair, as a direct connection would.
            await Task.WhenAny(a.CopyToAsync(b, cancel.Token), b.CopyToAsync(a, cancel.Token));
            await cancel.CancelAsync();
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
        {
            // A client that went away: nothing to report, the other side just closes.
        }
    }
}
