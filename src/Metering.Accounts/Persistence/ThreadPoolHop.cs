using System.Data.Common;
using System.Runtime.CompilerServices;
using LinqToDB.Interceptors;

namespace Metering.Accounts.Persistence;

/// <summary>
/// Moves each SQLite operation of the journal off the caller's thread before the connection opens.
/// Microsoft.Data.Sqlite's async methods run synchronously, so Akka.Persistence.Sql's write stage ran
/// a whole transaction, commit and fsync included, inside its stream's actor: the writes queued
/// meanwhile reached that actor only after the transaction, so every transaction carried one row
/// (10,000 accounts: ~1,100 one-row commits a second, each account waiting 0.5–0.9 s in the queue).
/// Once the transaction runs on the thread pool, the writes that arrive during it are batched into
/// the next one, as the journal's batch-size intends. The journal's writes and recovery reads are
/// now our own (<see cref="JournalWrites"/> writes from loops of its own, <see cref="RecoveryReads"/> and <see cref="SnapshotReads"/>
/// leave their actors with <see cref="Leave"/>); the interceptor still serves what Akka.Persistence.Sql
/// runs through linq2db.
/// </summary>
public sealed class ThreadPoolHop : ConnectionInterceptor
{
    public override async Task ConnectionOpeningAsync(ConnectionEventData eventData, DbConnection connection, CancellationToken cancellationToken) =>
        await Leave();

    /// <summary>Awaited, continues on a thread-pool thread: for work that would otherwise block an actor.</summary>
    public static ToThreadPool Leave() => default;

    /// <summary>Always continues on a thread-pool thread, whatever scheduler or context the caller had.</summary>
    public readonly struct ToThreadPool : ICriticalNotifyCompletion
    {
        public ToThreadPool GetAwaiter() => this;

        public bool IsCompleted => false;

        public void GetResult()
        {
        }

        public void OnCompleted(Action continuation) => ThreadPool.QueueUserWorkItem(static c => c(), continuation, preferLocal: false);

        public void UnsafeOnCompleted(Action continuation) => ThreadPool.UnsafeQueueUserWorkItem(static c => c(), continuation, preferLocal: false);
    }
}
