using System.Text;
using Akka.Actor;
using Akka.Hosting;
using Akka.TestKit.Xunit2;
using Confluent.Kafka;
using Metering.Accounts;
using Metering.Accounts.Messages;
using Metering.Domain.Meters;
using Metering.Domain.Usage;
using Metering.Ingestion.CloudEvents;
using Metering.Ingestion.Consumer;
using Metering.Ingestion.Kafka;
using Metering.Tests.Shared;

namespace Metering.Ingestion.Tests.Consumer;

/// <summary>
/// How a batch reaches the accounts: one ask per account, at most <see cref="KafkaOptions.MaxAccountsInFlight"/>
/// at a time. The shard region is stood in for by an actor that answers late (or never) and
/// remembers how many asks it held at once.
/// </summary>
public sealed class UsageBatchProcessorTests : TestKit, IDisposable
{
    private readonly EmbeddedKafkaBroker _broker;
    private readonly MeteringProducer _producer;
    private readonly TestMeters _meters = new();

    public UsageBatchProcessorTests()
    {
        _broker = EmbeddedKafkaBroker.Start();
        _producer = new MeteringProducer(new KafkaEndpoint(_broker.BootstrapServers, Embedded: true, UsagePartitions: 1));
    }

    [Fact]
    public async Task Batches_in_flight_together_keep_at_most_the_window_of_accounts_asked_and_count_every_account()
    {
        var region = Sys.ActorOf(Props.Create(() => new LateRegion(TimeSpan.FromMilliseconds(30), null)));
        var processor = Processor(region, window: 3, askTimeout: TimeSpan.FromSeconds(10));
        var first = Enumerable.Range(0, 40).Select(i => Record(offset: i, account: $"acct-{i % 10}")).ToList();
        var second = Enumerable.Range(40, 40).Select(i => Record(offset: i, account: $"acct-{10 + i % 10}")).ToList();
        KafkaPosition[] committed = [new(0, 0)];

        var outcomes = await Task.WhenAll(Process(processor, first, committed), Process(processor, second, committed));

        Assert.All(outcomes, o => Assert.Equal(new BatchOutcome(Consumed: 40, Accepted: 40, Duplicates: 0, Redelivered: 0, DeadLettered: 0, Accounts: 10), o));
        var seen = await region.Ask<LateRegion.Seen>(LateRegion.Report.Instance);
        Assert.Equal(20, seen.Asked);
        Assert.Equal(3, seen.PeakInFlight);
        // Every account hears what the group committed, so it can forget the offsets below.
        Assert.Equal(committed, seen.LastCommitted);
    }

    [Fact]
    public async Task After_an_account_fails_to_answer_no_more_accounts_are_asked_and_the_batch_fails()
    {
        var region = Sys.ActorOf(Props.Create(() => new LateRegion(TimeSpan.Zero, "acct-0")));
        var processor = Processor(region, window: 1, askTimeout: TimeSpan.FromMilliseconds(300));
        var batch = Enumerable.Range(0, 5).Select(i => Record(offset: i, account: $"acct-{i}")).ToList();

        await Assert.ThrowsAsync<AskTimeoutException>(() => Process(processor, batch, []));

        var seen = await region.Ask<LateRegion.Seen>(LateRegion.Report.Instance);
        Assert.Equal(1, seen.Asked);
    }

    /// <summary>Reads the records into a batch as the consumer does, then processes it.</summary>
    private static Task<BatchOutcome> Process(UsageBatchProcessor processor, IEnumerable<ConsumeResult<string?, ArraySegment<byte>>> records, IReadOnlyList<KafkaPosition> committed)
    {
        var batch = processor.Begin(CancellationToken.None);
        foreach (var record in records) processor.Add(batch, record);
        return processor.ProcessAsync(batch, committed);
    }

    private UsageBatchProcessor Processor(IActorRef region, int window, TimeSpan askTimeout)
    {
        var kafka = new KafkaOptions { MaxAccountsInFlight = window };
        return new UsageBatchProcessor(new Region(region), new UsageEventParser(MeterCatalog.Default, UsageEventLimits.Default), _producer,
            kafka, new AccountsOptions { AskTimeout = askTimeout }, new IngestionMetrics(_meters), TimeProvider.System);
    }

    private static ConsumeResult<string?, ArraySegment<byte>> Record(long offset, string account) => new()
    {
        TopicPartitionOffset = new TopicPartitionOffset("metering.usage", 0, offset),
        Message = new Message<string?, ArraySegment<byte>>
        {
            Key = account,
            Value = Encoding.UTF8.GetBytes($$"""{"specversion":"1.0","id":"e-{{offset}}","source":"crm","type":"crm.lead.created","subject":"{{account}}"}"""),
            Timestamp = new Timestamp(DateTime.UtcNow),
        },
    };

    private sealed class Region(IActorRef region) : IRequiredActor<AccountRegion>
    {
        public IActorRef ActorRef => region;

        public Task<IActorRef> GetAsync(CancellationToken cancellationToken = default) => Task.FromResult(region);
    }

    /// <summary>Answers each account <paramref name="delay"/> after its ask, except <paramref name="silent"/>, which it never answers.</summary>
    private sealed class LateRegion : ReceiveActor, IWithTimers
    {
        public sealed record Seen(int Asked, int PeakInFlight, IReadOnlyList<KafkaPosition>? LastCommitted);

        public sealed class Report
        {
            public static readonly Report Instance = new();
        }

        private sealed record Answer(IActorRef To, RecordAccountUsage Ask);

        private int _asked, _inFlight, _peak;
        private IReadOnlyList<KafkaPosition>? _committed;

        public ITimerScheduler Timers { get; set; } = null!;

        public LateRegion(TimeSpan delay, string? silent)
        {
            Receive<RecordAccountUsage>(m =>
            {
                _asked++;
                _peak = Math.Max(_peak, ++_inFlight);
                _committed = m.Committed;
                if (m.AccountId != silent)
                    Timers.StartSingleTimer(_asked, new Answer(Sender, m), delay);
            });
            Receive<Answer>(a =>
            {
                _inFlight--;
                a.To.Tell(new UsageAccepted(a.Ask.AccountId, a.Ask.Records.Count, 0, 0));
            });
            Receive<Report>(_ => Sender.Tell(new Seen(_asked, _peak, _committed)));
        }
    }

    void IDisposable.Dispose()
    {
        _producer.Dispose();
        _broker.Dispose();
        _meters.Dispose();
        base.Dispose();
    }
}
