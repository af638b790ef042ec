using System.Diagnostics;
using System.Text;
using Akka.Actor;
using Akka.Hosting;
using Confluent.Kafka;
using Metering.Accounts;
using Metering.Accounts.Messages;
using Metering.Domain.Usage;
using Metering.Ingestion.CloudEvents;
using Metering.Ingestion.Kafka;

namespace Metering.Ingestion.Consumer;

/// <summary>What one consumed batch came to.</summary>
public sealed record BatchOutcome(int Consumed, int Accepted, int Duplicates, int Redelivered, int DeadLettered, int Accounts);

/// <summary>
/// Turns one consumed batch into at most one command per account and waits until every account has
/// persisted it and every invalid record is on the dead-letter topic. Only then may the caller commit
/// the batch's offsets: whatever happens before that point is redelivered and dropped by the
/// accounts, which remember the offsets they took (see <c>TakenOffsets</c>).
/// </summary>
public sealed class UsageBatchProcessor(
    IRequiredActor<AccountRegion> accounts,
    UsageEventParser parser,
    MeteringProducer producer,
    KafkaOptions kafka,
    AccountsOptions accountsOptions,
    IngestionMetrics metrics,
    TimeProvider time)
{
    // Shared by the batches in flight, so the journal's queue stays as short with several as with one.
    private readonly SemaphoreSlim _window = new(Math.Max(1, kafka.MaxAccountsInFlight));

    /// <summary>
    /// Parses the batch before it returns, so the caller may let the consumed records go while the
    /// accounts persist (a batch in flight then holds only the parsed usage).
    /// </summary>
    /// <param name="committed">The group's committed offsets when the batch was read: the accounts take everything below them as done.</param>
    public Task<BatchOutcome> ProcessAsync(IReadOnlyList<ConsumeResult<string?, byte[]>> batch, IReadOnlyList<KafkaPosition> committed, CancellationToken ct)
    {
        var caller = Activity.Current;
        var span = IngestionTracing.StartBatch(batch, kafka.UsageTopic);
        try
        {
            Parsed parsed;
            try
            {
                parsed = Parse(batch, ct);
            }
            catch (Exception e)
            {
                span.Failed(e);
                span?.Dispose();
                throw;
            }
            return RecordAsync(span, parsed, committed, ct);
        }
        finally
        {
            // The batch's span is current only inside RecordAsync, which captured it.
            Activity.Current = caller;
        }
    }

    private Parsed Parse(IReadOnlyList<ConsumeResult<string?, byte[]>> batch, CancellationToken ct)
    {
        var parsed = new Parsed(batch.Count, time.GetTimestamp());
        var now = time.GetUtcNow();
        foreach (var result in batch)
        {
            var message = result.Message;
            var outcome = message.Value is null
                ? ParsedEvent.Reject("empty_value", "The record has no value.")
                : parser.Parse(message.Value, message.Key, new KafkaPosition(result.Partition.Value, result.Offset.Value), now);
            if (outcome is { AccountId: { } accountId, Record: { } record })
            {
                if (!parsed.ByAccount.TryGetValue(accountId, out var part))
                    parsed.ByAccount[accountId] = part = new AccountPart();
                part.Records.Add(record);
                part.Producer ??= KafkaTraceContext.Extract(message.Headers);
                if (message.Timestamp.Type != TimestampType.NotAvailable) parsed.IngestedAt.Add(message.Timestamp.UtcDateTime);
            }
            else
            {
                var rejection = outcome.Rejection!;
                parsed.DeadLetters.Add(producer.ProduceAsync(kafka.DeadLetterTopic, message.Key, message.Value ?? [], DeadLetterHeaders(result, rejection), ct));
                metrics.DeadLettered(rejection.Code);
            }
        }
        metrics.Consumed(batch.Count);
        return parsed;
    }

    private async Task<BatchOutcome> RecordAsync(Activity? span, Parsed parsed, IReadOnlyList<KafkaPosition> committed, CancellationToken ct)
    {
        using (span)
        {
            return await span.Traced(async () =>
            {
                var region = await accounts.GetAsync(ct);
                var acks = await RecordAllAsync(region, parsed.ByAccount, committed, ct);
                await Task.WhenAll(parsed.DeadLetters.Concat<Task>(acks));
                var persistedAt = time.GetUtcNow().UtcDateTime;
                metrics.Persisted(time.GetElapsedTime(parsed.Collected), parsed.IngestedAt.Select(t => persistedAt - t));

                int accepted = 0, duplicates = 0, redelivered = 0;
                foreach (var ack in acks)
                {
                    var r = ack.Result;
                    accepted += r.Accepted;
                    duplicates += r.Duplicates;
                    redelivered += r.Redelivered;
                }
                metrics.Recorded(accepted, duplicates, redelivered);
                return new BatchOutcome(parsed.Consumed, accepted, duplicates, redelivered, parsed.DeadLetters.Count, parsed.ByAccount.Count);
            });
        }
    }

    /// <summary>
    /// Asks every account of the batch, at most <see cref="KafkaOptions.MaxAccountsInFlight"/> at a
    /// time; after a failure it asks no more (the batch is retried anyway).
    /// </summary>
    private async Task<List<Task<UsageAccepted>>> RecordAllAsync(IActorRef region, Dictionary<string, AccountPart> byAccount, IReadOnlyList<KafkaPosition> committed, CancellationToken ct)
    {
        var acks = new List<Task<UsageAccepted>>(byAccount.Count);
        var failed = false;
        foreach (var (accountId, part) in byAccount)
        {
            await _window.WaitAsync(ct);
            if (Volatile.Read(ref failed))
            {
                _window.Release();
                break;
            }
            acks.Add(RecordReleasingAsync(accountId, part));
        }
        return acks;

        async Task<UsageAccepted> RecordReleasingAsync(string accountId, AccountPart part)
        {
            try
            {
                return await RecordAccountAsync(region, accountId, part, committed, ct);
            }
            catch
            {
                Volatile.Write(ref failed, true);
                throw;
            }
            finally
            {
                _window.Release();
            }
        }
    }

    private async Task<UsageAccepted> RecordAccountAsync(IActorRef region, string accountId, AccountPart part, IReadOnlyList<KafkaPosition> committed, CancellationToken ct)
    {
        using var span = IngestionTracing.StartAccount(accountId, part.Records.Count, part.Producer);
        return await span.Traced(() =>
            region.Ask<UsageAccepted>(new RecordAccountUsage(accountId, part.Records, span?.Id, committed), accountsOptions.AskTimeout, ct));
    }

    /// <summary>A batch once parsed: its records by account, when Kafka took them, and its dead letters on their way.</summary>
    private sealed record Parsed(int Consumed, long Collected)
    {
        public Dictionary<string, AccountPart> ByAccount { get; } = new(StringComparer.Ordinal);
        public List<DateTime> IngestedAt { get; } = new(Consumed);
        public List<Task> DeadLetters { get; } = [];
    }

    /// <summary>An account's records in the batch and the trace context of its first traced record.</summary>
    private sealed class AccountPart
    {
        public List<UsageRecord> Records { get; } = [];
        public ActivityContext? Producer { get; set; }
    }

    private static Headers DeadLetterHeaders(ConsumeResult<string?, byte[]> result, Rejection rejection)
    {
        var headers = new Headers
        {
            { KafkaHeaders.Reason, Encoding.UTF8.GetBytes(rejection.Code) },
            { KafkaHeaders.ReasonDetail, Encoding.UTF8.GetBytes(rejection.Detail) },
            { KafkaHeaders.SourceTopic, Encoding.UTF8.GetBytes(result.Topic) },
            { KafkaHeaders.SourcePartition, Encoding.UTF8.GetBytes(result.Partition.Value.ToString()) },
            { KafkaHeaders.SourceOffset, Encoding.UTF8.GetBytes(result.Offset.Value.ToString()) },
        };
        // Keep the producer's own headers (trace context among them) after ours.
        if (result.Message.Headers is { } original)
        {
            foreach (var h in original) headers.Add(h.Key, h.GetValueBytes());
        }
        return headers;
    }
}
