using System.Collections.Concurrent;
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

/// <summary>A batch handed to the accounts.</summary>
/// <param name="Applied">Done once every account applied its part: their balances reflect it.</param>
/// <param name="Done">Done once every part is durable and every dead letter sent: the batch's offsets may be committed.</param>
public sealed record BatchWork(Task Applied, Task<BatchOutcome> Done);

/// <summary>
/// Turns one consumed batch, parsed as it was read, into at most one command per account and waits
/// until every account has persisted it and every invalid record is on the dead-letter topic. Only
/// then may the caller commit the batch's offsets: whatever happens before that point is redelivered
/// and dropped by the accounts, which remember the offsets they took (see <c>TakenOffsets</c>).
/// </summary>
public sealed class UsageBatchProcessor(
    IRequiredActor<AccountRegion> accounts,
    KafkaEndpoint endpoint,
    UsageEventParser parser,
    MeteringProducer producer,
    KafkaOptions kafka,
    AccountsOptions accountsOptions,
    IngestionMetrics metrics,
    TimeProvider time)
{
    // Shared by the batches in flight, so the journal's queue stays as short with several as with one.
    private readonly SemaphoreSlim _window = new(Math.Max(1, kafka.MaxAccountsInFlight));

    // The account tables of finished batches, emptied, for the next ones. A table of thousands of
    // accounts is a large object, collected only with the oldest generation: a new one per batch kept
    // every finished batch's parts and records reachable until then, so each young collection copied
    // them (docs/benchmarks.md, session 22). Never more than the batches ever in flight at once.
    private readonly ConcurrentQueue<Dictionary<string, UsageBatch.AccountPart>> _tables = new();

    // Accounts that answered a part as applied and may still hold it unwritten (write-behind): the ones
    // WriteNow asks. An account that wrote meanwhile is asked for nothing, which costs it nothing.
    private readonly ConcurrentDictionary<string, bool> _mayHoldUnwritten = new(StringComparer.Ordinal);

    /// <summary>Starts a batch; the consumer adds each record as it reads it, then hands the batch to <see cref="ProcessAsync"/>.</summary>
    /// <param name="ct">Stops the batch's dead letters and asks (the consumer's drain).</param>
    public UsageBatch Begin(CancellationToken ct) =>
        new(_tables.TryDequeue(out var table) ? table : new(StringComparer.Ordinal), time.GetTimestamp(), time.GetUtcNow(), IngestionTracing.Enabled, ct);

    /// <summary>
    /// Parses a record into the batch, or sends it to the dead-letter topic with the reason. The record
    /// is not kept: once this returns the caller may let it go, and its value's buffer be reused
    /// (<see cref="ReusedValueDeserializer"/>).
    /// </summary>
    public void Add(UsageBatch batch, ConsumeResult<string?, ArraySegment<byte>> result)
    {
        var message = result.Message;
        batch.Offsets.Add(result.Partition.Value, result.Offset.Value);
        var position = endpoint.PositionOf(result.Partition.Value, result.Offset.Value);
        var outcome = message.Value.Array is null
            ? ParsedEvent.Reject("empty_value", "The record has no value.")
            : parser.Parse(message.Value, message.Key, position, batch.ReadAt);
        if (outcome is { AccountId: { } accountId, Record: { } record })
        {
            if (!batch.ByAccount.TryGetValue(accountId, out var part))
                batch.ByAccount[accountId] = part = new UsageBatch.AccountPart();
            part.Records.Add(record);
            if (batch.Traced && KafkaTraceContext.Extract(message.Headers) is { } producer)
            {
                part.Producer ??= producer;
                if (batch.Producers.Count < IngestionTracing.MaxLinks) batch.Producers.Add(producer);
            }
            if (message.Timestamp.Type != TimestampType.NotAvailable) batch.IngestedAt.Add(message.Timestamp.UtcDateTime);
        }
        else
        {
            var rejection = outcome.Rejection!;
            batch.DeadLetters.Add(producer.ProduceAsync(kafka.DeadLetterTopic, message.Key, message.Value.Array is null ? [] : message.Value.ToArray(), DeadLetterHeaders(result, kafka.UsageTopic, rejection), batch.Cancellation));
            metrics.DeadLettered(rejection.Code);
        }
    }

    /// <summary>Records the batch's usage in its accounts.</summary>
    /// <param name="committed">The group's committed offsets when the batch was read: the accounts take everything below them as done.</param>
    public BatchWork ProcessAsync(UsageBatch batch, IReadOnlyList<KafkaPosition> committed)
    {
        metrics.Consumed(batch.Count);
        var caller = Activity.Current;
        var span = batch.Traced ? IngestionTracing.StartBatch(batch.Producers, batch.Count, kafka.UsageTopic, batch.ReadAt) : null;
        var applied = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            return new BatchWork(applied.Task, RecordAsync(span, batch, committed, applied));
        }
        finally
        {
            // The batch's span is current only inside RecordAsync, which captured it.
            Activity.Current = caller;
        }
    }

    private async Task<BatchOutcome> RecordAsync(Activity? span, UsageBatch batch, IReadOnlyList<KafkaPosition> committed, TaskCompletionSource applied)
    {
        var ct = batch.Cancellation;
        using var _ = span;
        try
        {
            return await span.Traced(async () =>
            {
                var accountCount = batch.ByAccount.Count;
                AccountAnswers answers;
                try
                {
                    var region = await accounts.GetAsync(ct);
                    answers = await AskAllAsync(region, batch, committed, ct);
                }
                finally
                {
                    // Every account was told by now (or none will be): the table is free for a later batch.
                    batch.ByAccount.Clear();
                    _tables.Enqueue(batch.ByAccount);
                }
                await answers.Applied;
                var appliedAt = time.GetUtcNow().UtcDateTime;
                metrics.Applied(batch.IngestedAt.Select(t => appliedAt - t));
                applied.TrySetResult();

                await Task.WhenAll(batch.DeadLetters.Append(answers.Task));
                metrics.Persisted(time.GetElapsedTime(batch.Collected));
                var (accepted, duplicates, redelivered) = answers.Task.Result;
                metrics.Recorded(accepted, duplicates, redelivered);
                return new BatchOutcome(batch.Count, accepted, duplicates, redelivered, batch.DeadLetters.Count, accountCount);
            });
        }
        catch (Exception e)
        {
            applied.TrySetException(e);
            throw;
        }
    }

    /// <summary>
    /// Tells every account of the batch its part, at most <see cref="KafkaOptions.MaxAccountsInFlight"/>
    /// not applied at a time, all answering to one <see cref="AccountAnswers"/>; after a failure it
    /// tells no more (the batch is retried anyway). Done once every account was told.
    /// </summary>
    private async Task<AccountAnswers> AskAllAsync(IActorRef region, UsageBatch batch, IReadOnlyList<KafkaPosition> committed, CancellationToken ct)
    {
        var answers = new AccountAnswers(((IInternalActorRef)region).Provider, _window, accountsOptions.AskTimeout, batch.Traced, ct, _mayHoldUnwritten);
        try
        {
            foreach (var (accountId, part) in batch.ByAccount)
            {
                await answers.PlaceAsync();
                if (!answers.Asking(accountId, part.Records.Count, part.Producer, out var traceParent)) break;
                region.Tell(new RecordAccountUsage(accountId, part.Records, traceParent, committed), answers);
            }
            answers.AllAsked();
        }
        catch (OperationCanceledException) when (answers.Failed.IsCancellationRequested)
        {
            // The batch failed (or the consumer stopped) while waiting for a place; its task says why.
        }
        catch (Exception e)
        {
            answers.Fail(e); // gives back the places of those told and stops its watch
            throw;
        }
        return answers;
    }

    /// <summary>
    /// Asks every account that may hold usage applied ahead of its journal to write it now: the
    /// consumer calls it when the stream goes quiet and before it stops, so the batches in flight
    /// are committed without waiting for the accounts' write-behind interval.
    /// </summary>
    public void WriteNow()
    {
        // Entries exist only once accounts answered, so the region is resolved by then.
        if (_mayHoldUnwritten.IsEmpty) return;
        var region = accounts.ActorRef;
        foreach (var accountId in _mayHoldUnwritten.Keys)
        {
            _mayHoldUnwritten.TryRemove(accountId, out _);
            region.Tell(new WriteUsageNow(accountId));
        }
    }

    private static Headers DeadLetterHeaders(ConsumeResult<string?, ArraySegment<byte>> result, string topic, Rejection rejection)
    {
        var headers = new Headers
        {
            { KafkaHeaders.Reason, Encoding.UTF8.GetBytes(rejection.Code) },
            { KafkaHeaders.ReasonDetail, Encoding.UTF8.GetBytes(rejection.Detail) },
            { KafkaHeaders.SourceTopic, Encoding.UTF8.GetBytes(topic) },
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
