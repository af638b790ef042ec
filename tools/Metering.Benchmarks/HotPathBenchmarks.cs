using System.Text;
using System.Text.Json;
using Akka.Actor;
using Akka.Serialization;
using BenchmarkDotNet.Attributes;
using Metering.Accounts.Serialization;
using Metering.Domain.Accounts;
using Metering.Domain.Meters;
using Metering.Domain.Plans;
using Metering.Domain.Usage;
using Metering.Ingestion.CloudEvents;

namespace Metering.Benchmarks;

/// <summary>
/// The per-event work on the ingestion hot path, one piece at a time: parse a CloudEvent, decide a
/// batch for an account (dedupe, watermarks, rating against a plan), apply it, and write or read the
/// journal row it becomes. A batch is 8 records: what one account typically gets in one poll.
/// </summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private const int BatchSize = 8;
    private static readonly DateTimeOffset Now = new(2026, 11, 27, 10, 0, 0, TimeSpan.Zero);

    private readonly UsageEventParser _parser = new(MeterCatalog.Default, UsageEventLimits.Default);
    private readonly byte[] _event = Encoding.UTF8.GetBytes(
        """{"specversion":"1.0","id":"pre-123456","source":"crm/loadgen","type":"crm.call.completed","subject":"acct-00042","time":"2026-11-27T09:59:59.123Z","datacontenttype":"application/json","data":{"quantity":1,"durationSeconds":312,"user":"u-4"}}""");

    private ActorSystem _system = null!;
    private Serializer _serializer = null!;
    private Account _account = null!;
    private RecordUsage _command = null!;
    private UsageRecorded _recorded = null!;
    private byte[] _row = [];
    private byte[] _v1Row = [];
    private string _manifest = "";
    private long _offset;

    [GlobalSetup]
    public void Setup()
    {
        _system = ActorSystem.Create("bench");
        _serializer = new AccountSerializer((ExtendedActorSystem)_system);
        _account = SubscribedAccount();
        _command = Batch(0);
        _recorded = (UsageRecorded)_account.Decide(_command).Events[0];
        _manifest = ((SerializerWithStringManifest)_serializer).Manifest(_recorded);
        _row = _serializer.ToBinary(_recorded);
        _v1Row = SerializeV1();
    }

    [GlobalCleanup]
    public void Cleanup() => _system.Terminate().Wait();

    [Benchmark(Description = "parse one CloudEvent")]
    public ParsedEvent Parse() => _parser.Parse(_event, "acct-00042", new KafkaPosition(3, 123_456), Now);

    [Benchmark(Description = "decide (dedupe + rate) a batch of 8")]
    public object Decide() => _account.Decide(_command);

    [Benchmark(Description = "decide + apply a batch of 8")]
    public Account DecideApply()
    {
        // Fresh offsets and ids each time, so every batch is new usage rather than a redelivery.
        var decision = _account.Decide(Batch(_offset += BatchSize));
        foreach (var e in decision.Events) _account.Apply(e);
        return _account;
    }

    [Benchmark(Description = "serialize UsageRecorded of 8 (binary)")]
    public byte[] Serialize() => _serializer.ToBinary(_recorded);

    [Benchmark(Description = "deserialize UsageRecorded of 8 (binary)")]
    public object Deserialize() => ((SerializerWithStringManifest)_serializer).FromBinary(_row, _manifest);

    /// <summary>What the journal row cost before v2: the same event as v1 JSON, for comparison.</summary>
    [Benchmark(Description = "serialize UsageRecorded of 8 (v1 JSON)")]
    public byte[] SerializeV1() => JsonSerializer.SerializeToUtf8Bytes(_recorded, JsonSerializerOptions.Web);

    [Benchmark(Description = "deserialize UsageRecorded of 8 (v1 JSON)")]
    public object DeserializeV1() => ((SerializerWithStringManifest)_serializer).FromBinary(_v1Row, "usage-recorded.v1");

    private static Account SubscribedAccount()
    {
        var account = new Account("acct-00042", AccountSettings.Default);
        foreach (var e in account.Decide(new Subscribe(DefaultPlans.Pro, null, Now)).Events) account.Apply(e);
        return account;
    }

    private static RecordUsage Batch(long firstOffset)
    {
        var records = new UsageRecord[BatchSize];
        for (var i = 0; i < BatchSize; i++)
        {
            var offset = firstOffset + i;
            records[i] = new UsageRecord("crm/loadgen", $"pre-{offset}", i % 2 == 0 ? "call" : "email", 1m, Now, null, "u-4", new KafkaPosition(3, offset));
        }
        // As in the engine: the group has committed what came before the batch.
        return new RecordUsage(records, Now, firstOffset > 0 ? [new KafkaPosition(3, firstOffset)] : null);
    }
}
