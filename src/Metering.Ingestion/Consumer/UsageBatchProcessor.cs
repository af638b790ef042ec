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

    /// <param name="committed">The group's committed offsets when the batch was read: the accounts take everything below them as done.</param>
    public async Task<BatchOutcome> ProcessAsync(IReadOnlyList<ConsumeResult<string?, byte[]>> batch, IReadOnlyList<KafkaPosition> committed, CancellationToken ct)
    {
        using var span = IngestionTracing.StartBatch(batch, kafka.UsageTopic);
        return await span.Traced(() => ProcessTracedAsync(batch, committed, ct));
    }

    private async Task<BatchOutcome> ProcessTracedAsync(IReadOnlyList<ConsumeResult<string?, byte[]>> batch, IReadOnlyList<KafkaPosition> committed, CancellationToken ct)
    {
        var collected = time.GetTimestamp();
        var now = time.GetUtcNow();
        var byAccount = new Dictionary<string, AccountPart>(StringComparer.Ordinal);
        var ingestedAt = new List<DateTime>(batch.Count);
        var deadLetters = new List<Task>();
        foreach (var result in batch)
        {
            var message = result.Message;
            var parsed = message.Value is null
                ? ParsedEvent.Reject("empty_value", "The record has no value.")
                : parser.Parse(message.Value, message.Key, new KafkaPosition(result.Partition.Value, result.Offset.Value), now);
            if (parsed is { AccountId: { } accountId, Record: { } record })
            {
                if (!byAccount.TryGetValue(accountId, out var part))
                    byAccount[accountId] = part = new AccountPart();
                part.Records.Add(record);
                part.Producer ??= KafkaTraceContext.Extract(message.Headers);
                if (message.Timestamp.Type != TimestampType.NotAvailable) ingestedAt.Add(message.Timestamp.UtcDateTime);
            }
            else
            {
                var rejection = parsed.Rejection!;
                deadLetters.Add(producer.ProduceAsync(kafka.DeadLetterTopic, message.Key, message.Value ?? [], DeadLetterHeaders(result, rejection), ct));
                metrics.DeadLettered(rejection.Code);
            }
        }
        metrics.Consumed(batch.Count);

        var region = await accounts.GetAsync(ct);
        var acks = await RecordAllAsync(region, byAccount, committed, ct);
        await Task.WhenAll(deadLetters.Concat<Task>(acks));
        var persistedAt = time.GetUtcNow().UtcDateTime;
        metrics.Persisted(time.GetElapsedTime(collected), ingestedAt.Select(t => persistedAt - t));

        int accepted = 0, duplicates = 0, redelivered = 0;
        foreach (var ack in acks)
        {
            var r = ack.Result;
            accepted += r.Accepted;
            duplicates += r.Duplicates;
            redelivered += r.Redelivered;
        }
        metrics.Recorded(accepted, duplicates, redelivered);
        return new BatchOutcome(batch.Count, accepted, duplicates, redelivered, deadLetters.Count, byAccount.Count);
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
                return await RecordAsync(region, accountId, part, committed, ct);
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

    private async Task<UsageAccepted> RecordAsync(IActorRef region, string accountId, AccountPart part, IReadOnlyList<KafkaPosition> committed, CancellationToken ct)
    {
        using var span = IngestionTracing.StartAccount(accountId, part.Records.Count, part.Producer);
        return await span.Traced(() =>
            region.Ask<UsageAccepted>(new RecordAccountUsage(accountId, part.Records, span?.Id, committed), accountsOptions.AskTimeout, ct));
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
