using System.Globalization;
using System.Text;

namespace Metering.Ingestion.Kafka;

/// <summary>
/// The embedded broker keeps its log in memory, so after an engine restart it numbers records from
/// offset 0 again, while the accounts remember the offsets they took (<c>TakenOffsets</c>): they
/// took the new records for ones already counted and dropped them, accepted events lost. Each start
/// of an engine with its own embedded broker therefore takes a range of offsets of its own, counted
/// in a file of the data folder, and the consumer adds the range's base to every offset the
/// accounts see (<see cref="KafkaEndpoint.OffsetBase"/>). Commits and dead letters keep the
/// broker's own offsets.
/// </summary>
public static class EmbeddedBrokerEpochs
{
    public const string FileName = "embedded-broker.epoch";

    /// <summary>
    /// Bits of a start's range: 2^44 offsets per partition (over five years at 100,000 records/s on
    /// one partition), and 2^19 (524,288) starts before the base leaves a long.
    /// </summary>
    private const int RangeBits = 44;

    /// <summary>Counts a start in <paramref name="dataDir"/> and returns its offset base, on disk before any record is read.</summary>
    public static long NextOffsetBase(string dataDir)
    {
        Directory.CreateDirectory(dataDir);
        var path = Path.Combine(dataDir, FileName);
        var epoch = (File.Exists(path) ? long.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture) : 0) + 1;
        if (epoch >= 1L << (63 - RangeBits))
            throw new InvalidOperationException($"{path}: the embedded broker has started {epoch - 1} times with this data folder, the most it can tell apart; use a new data folder.");
        // Written aside and moved over, so a crash leaves the old count or the new, never a torn one.
        var written = path + ".new";
        using (var file = new FileStream(written, FileMode.Create, FileAccess.Write))
        {
            file.Write(Encoding.ASCII.GetBytes(epoch.ToString(CultureInfo.InvariantCulture)));
            file.Flush(flushToDisk: true);
        }
        File.Move(written, path, overwrite: true);
        return epoch << RangeBits;
    }

    /// <summary>
    /// Refuses a Kafka cluster for a data folder whose accounts counted the embedded broker's
    /// offsets: those are far above any of the cluster's, so its records would all look counted.
    /// </summary>
    public static void EnsureNeverUsed(string dataDir)
    {
        var path = Path.Combine(dataDir, FileName);
        if (File.Exists(path))
            throw new InvalidOperationException(
                $"The data folder {Path.GetFullPath(dataDir)} holds usage counted from the embedded Kafka broker ({FileName}), whose offsets are not this Kafka cluster's: " +
                "its accounts would take the cluster's records for ones already counted. Start with an empty data folder (Metering:DataDir) to use Metering:Kafka:BootstrapServers.");
    }
}
