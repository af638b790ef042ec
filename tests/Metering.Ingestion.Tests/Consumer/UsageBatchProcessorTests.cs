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
/// How a batch reaches the accounts: one message per account, at most <see cref="KafkaOptions.MaxAccountsInFlight"/>
/// unanswered at a time, all answering to one <c>AccountAnswers</c>. The shard region is stood
/// in for by an actor that answers late (or never) and remembers how many accounts it held at once.
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

    [Fact]
    public async Task A_failed_batch_gives_back_the_places_of_the_accounts_that_did_not_answer_and_ignores_their_late_answers()
    {
        // acct-0 answers only when told, long after its batch gave up. The timeout is generous: the
        // batches after it must not fail because a busy machine paused for a moment between answers.
        var region = Sys.ActorOf(Props.Create(() => new LateRegion(TimeSpan.FromMilliseconds(20), "acct-0")));
        var processor = Processor(region, window: 1, askTimeout: TimeSpan.FromSeconds(2));

        await Assert.ThrowsAsync<AskTimeoutException>(() => Process(processor, [Record(offset: 0, account: "acct-0")], []));
        // The only place of the window is back: a batch after it goes through.
        var next = Enumerable.Range(1, 4).Select(i => Record(offset: i, account: $"acct-{i}")).ToList();
        Assert.Equal(4, (await Process(processor, next, [])).Accepted);

        // The late answer must not make a second place: the batch after it still has one account at a time.
        region.Tell(LateRegion.AnswerHeld.Instance);
        await AwaitAssertAsync(async () => Assert.Equal(0, (await region.Ask<LateRegion.Seen>(LateRegion.Report.Instance)).InFlight), TimeSpan.FromSeconds(5));
        region.Tell(LateRegion.ResetPeak.Instance);
        var last = Enumerable.Range(5, 6).Select(i => Record(offset: i, account: $"acct-{i}")).ToList();
        Assert.Equal(6, (await Process(processor, last, [])).Accepted);
        var seen = await region.Ask<LateRegion.Seen>(LateRegion.Report.Instance);
        Assert.Equal(11, seen.Asked);
        Assert.Equal(1, seen.PeakInFlight);
    }

    [Fact]
    public async Task A_batch_stopped_by_the_consumer_is_cancelled_and_gives_back_its_places()
    {
        var region = Sys.ActorOf(Props.Create(() => new LateRegion(TimeSpan.FromMilliseconds(20), "acct-0")));
        var processor = Processor(region, window: 1, askTimeout: TimeSpan.FromSeconds(30));
        using var stop = new CancellationTokenSource();

        var stopped = Process(processor, [Record(offset: 0, account: "acct-0"), Record(offset: 1, account: "acct-1")], [], stop.Token);
        await AwaitAssertAsync(async () => Assert.Equal(1, (await region.Ask<LateRegion.Seen>(LateRegion.Report.Instance)).Asked), TimeSpan.FromSeconds(5));
        stop.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stopped);
        Assert.Equal(1, (await Process(processor, [Record(offset: 2, account: "acct-2")], [])).Accepted);
        Assert.Equal(2, (await region.Ask<LateRegion.Seen>(LateRegion.Report.Instance)).Asked);
    }

    [Fact]
    public async Task A_batch_that_throws_while_telling_its_accounts_gives_back_the_places_of_those_told()
    {
        var late = Sys.ActorOf(Props.Create(() => new LateRegion(TimeSpan.FromMilliseconds(20), "acct-0")));
        var processor = Processor(new RefusingRegion(late, "acct-boom"), window: 2, askTimeout: TimeSpan.FromSeconds(30));

        // acct-0 is told and never answers; telling acct-boom throws.
        await Assert.ThrowsAsync<InvalidOperationException>(() => Process(processor, [Record(offset: 0, account: "acct-0"), Record(offset: 1, account: "acct-boom")], []));

        // Both places are back at once, not after the ask timeout: two accounts are in flight together again.
        var next = Enumerable.Range(2, 6).Select(i => Record(offset: i, account: $"acct-{i}")).ToList();
        Assert.Equal(6, (await Process(processor, next, [])).Accepted);
        Assert.Equal(3, (await late.Ask<LateRegion.Seen>(LateRegion.Report.Instance)).PeakInFlight);
    }

    [Fact]
    public async Task Accounts_that_write_behind_free_their_places_once_applied_and_the_batch_is_done_once_all_are_durable()
    {
        // Six accounts through a window of two, none of them durable yet: places come back as each applies.
        var (region, _, work) = await AppliedAheadAsync(records: 6, accounts: 6, askTimeout: TimeSpan.FromSeconds(10));
        Assert.Equal(6, await region.Ask<int>(WriteBehindRegion.WriteAll.Instance));
        Assert.Equal(new BatchOutcome(Consumed: 6, Accepted: 6, Duplicates: 0, Redelivered: 0, DeadLettered: 0, Accounts: 6), await work.Done.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Write_now_asks_each_account_that_applied_ahead_once_and_the_batch_is_then_done()
    {
        var (region, processor, work) = await AppliedAheadAsync(records: 4, accounts: 3, askTimeout: TimeSpan.FromSeconds(10));
        processor.WriteNow();
        processor.WriteNow(); // nobody applied anything since: nobody is asked again
        Assert.Equal(4, (await work.Done.WaitAsync(TimeSpan.FromSeconds(10))).Accepted);
        Assert.Equal(3, await region.Ask<int>(WriteBehindRegion.AskedToWrite.Instance));
    }

    [Fact]
    public async Task A_batch_applied_but_never_written_fails_once_its_accounts_are_silent_for_the_ask_timeout()
    {
        var (_, _, work) = await AppliedAheadAsync(records: 3, accounts: 3, askTimeout: TimeSpan.FromMilliseconds(300));
        // The accounts lost what they applied (a crash): the consumer must not commit, and reads it again.
        await Assert.ThrowsAsync<AskTimeoutException>(() => work.Done.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    /// <summary>A batch of <paramref name="records"/> over <paramref name="accounts"/> accounts that write behind (window of two), once every account applied its part.</summary>
    private async Task<(IActorRef Region, UsageBatchProcessor Processor, BatchWork Work)> AppliedAheadAsync(int records, int accounts, TimeSpan askTimeout)
    {
        var region = Sys.ActorOf(Props.Create(() => new WriteBehindRegion()));
        var processor = Processor(region, window: 2, askTimeout);
        var batch = processor.Begin(default);
        foreach (var record in Enumerable.Range(0, records).Select(i => Record(offset: i, account: $"acct-{i % accounts}"))) processor.Add(batch, record);
        var work = processor.ProcessAsync(batch, []);
        await work.Applied.WaitAsync(TimeSpan.FromSeconds(10));
        return (region, processor, work);
    }

    /// <summary>Reads the records into a batch as the consumer does, then processes it.</summary>
    private static Task<BatchOutcome> Process(UsageBatchProcessor processor, IEnumerable<ConsumeResult<string?, ArraySegment<byte>>> records, IReadOnlyList<KafkaPosition> committed, CancellationToken ct = default)
    {
        var batch = processor.Begin(ct);
        foreach (var record in records) processor.Add(batch, record);
        // A batch that never ends (a place of the window lost) fails the test instead of hanging it.
        return processor.ProcessAsync(batch, committed).Done.WaitAsync(TimeSpan.FromSeconds(20));
    }

    private UsageBatchProcessor Processor(IActorRef region, int window, TimeSpan askTimeout)
    {
        var kafka = new KafkaOptions { MaxAccountsInFlight = window };
        return new UsageBatchProcessor(new Region(region), new KafkaEndpoint(_broker.BootstrapServers, Embedded: true, UsagePartitions: 1),
            new UsageEventParser(MeterCatalog.Default, UsageEventLimits.Default), _producer,
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

    /// <summary>Passes every account on to <paramref name="inner"/> but <paramref name="refused"/>, for which telling throws.</summary>
    private sealed class RefusingRegion(IActorRef inner, string refused) : MinimalActorRef
    {
        private readonly IInternalActorRef _inner = (IInternalActorRef)inner;

        public override ActorPath Path => _inner.Path;

        public override IActorRefProvider Provider => _inner.Provider;

        protected override void TellInternal(object message, IActorRef sender)
        {
            if (message is RecordAccountUsage m && m.AccountId == refused) throw new InvalidOperationException("refused");
            _inner.Tell(message, sender);
        }
    }

    /// <summary>Answers each account at once that it applied its part, and that the part is durable only when told <see cref="WriteAll"/>.</summary>
    private sealed class WriteBehindRegion : ReceiveActor
    {
        /// <summary>Answers every part held as durable; answered with how many there were.</summary>
        public sealed class WriteAll
        {
            public static readonly WriteAll Instance = new();
        }

        /// <summary>Answered with how many <see cref="WriteUsageNow"/> came.</summary>
        public sealed class AskedToWrite
        {
            public static readonly AskedToWrite Instance = new();
        }

        private readonly List<(IActorRef To, RecordAccountUsage Part)> _unwritten = [];
        private int _askedToWrite;

        public WriteBehindRegion()
        {
            Receive<RecordAccountUsage>(m =>
            {
                Sender.Tell(new UsageApplied(m.AccountId));
                _unwritten.Add((Sender, m));
            });
            Receive<WriteUsageNow>(m =>
            {
                _askedToWrite++;
                foreach (var (to, part) in _unwritten.Where(u => u.Part.AccountId == m.AccountId))
                    to.Tell(new UsageAccepted(part.AccountId, part.Records.Count, 0, 0, Deferred: true));
                _unwritten.RemoveAll(u => u.Part.AccountId == m.AccountId);
            });
            Receive<AskedToWrite>(_ => Sender.Tell(_askedToWrite));
            Receive<WriteAll>(_ =>
            {
                foreach (var (to, part) in _unwritten) to.Tell(new UsageAccepted(part.AccountId, part.Records.Count, 0, 0, Deferred: true));
                Sender.Tell(_unwritten.Count);
                _unwritten.Clear();
            });
        }
    }

    /// <summary>Answers each account <paramref name="delay"/> after it came, except <paramref name="slow"/>: only when told <see cref="AnswerHeld"/>.</summary>
    private sealed class LateRegion : ReceiveActor, IWithTimers
    {
        public sealed record Seen(int Asked, int InFlight, int PeakInFlight, IReadOnlyList<KafkaPosition>? LastCommitted);

        public sealed class Report
        {
            public static readonly Report Instance = new();
        }

        /// <summary>Answers the slow account's messages held so far.</summary>
        public sealed class AnswerHeld
        {
            public static readonly AnswerHeld Instance = new();
        }

        /// <summary>Starts counting the peak again from the accounts held now.</summary>
        public sealed class ResetPeak
        {
            public static readonly ResetPeak Instance = new();
        }

        private sealed record Answer(IActorRef To, RecordAccountUsage Ask);

        private int _asked, _inFlight, _peak;
        private IReadOnlyList<KafkaPosition>? _committed;
        private readonly List<Answer> _held = [];

        public ITimerScheduler Timers { get; set; } = null!;

        public LateRegion(TimeSpan delay, string? slow)
        {
            Receive<RecordAccountUsage>(m =>
            {
                _asked++;
                _peak = Math.Max(_peak, ++_inFlight);
                _committed = m.Committed;
                if (m.AccountId != slow) Timers.StartSingleTimer(_asked, new Answer(Sender, m), delay);
                else _held.Add(new Answer(Sender, m));
            });
            Receive<Answer>(a =>
            {
                _inFlight--;
                a.To.Tell(new UsageAccepted(a.Ask.AccountId, a.Ask.Records.Count, 0, 0));
            });
            Receive<AnswerHeld>(_ =>
            {
                foreach (var held in _held) Self.Tell(held);
                _held.Clear();
            });
            Receive<Report>(_ => Sender.Tell(new Seen(_asked, _inFlight, _peak, _committed)));
            Receive<ResetPeak>(_ => _peak = _inFlight);
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
