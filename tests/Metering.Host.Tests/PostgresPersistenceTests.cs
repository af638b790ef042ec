using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Confluent.Kafka;
using Metering.Ingestion.Kafka;
using Metering.Tests.Shared;
using Npgsql;

namespace Metering.Host.Tests;

/// <summary>The engine with <c>Metering:Persistence:Provider=postgres</c>: journal and snapshots in PostgreSQL.</summary>
public sealed class PostgresPersistenceTests : IAsyncLifetime
{
    private const string UsageTopic = "metering.usage";
    private const int UsagePartitions = 8;

    private readonly TempDir _data = new();
    private TestBackends? _backends;

    private EmbeddedKafkaBroker Kafka => _backends!.Kafka;
    private TestPostgresDatabase Database => _backends!.Database;

    public async Task InitializeAsync() => _backends = await TestBackends.StartAsync(UsagePartitions);

    public async Task DisposeAsync()
    {
        if (_backends is not null) await _backends.DisposeAsync();
        _data.Dispose();
    }

    private Task<MeteringHost> StartHostAsync(string consumerGroup, params string[] extra) =>
        MeteringHost.StartAsync(_data.Path, Kafka.BootstrapServers, consumerGroup,
        [
            "--Metering:Persistence:Provider=postgres",
            $"--Metering:Persistence:ConnectionString={Database.ConnectionString}",
            .. extra,
        ]);

    [Fact]
    public async Task The_journal_lives_in_postgres_and_a_restarted_engine_recovers_exact_counts_from_it()
    {
        var stream = UsageStream.Generate(seed: 15, count: 2_000, accounts: 20, duplicateRate: 0.05, invalidRate: 0);
        Assert.InRange(stream.Duplicates, 50, 150);

        long journalRows;
        await using (var first = await StartHostAsync("pg-first"))
        {
            await AssertRunsOnPostgresAsync(first);
            await stream.ProduceAsync(Kafka.BootstrapServers, UsageTopic);
            await stream.WaitUntilCountedAsync(first, TimeSpan.FromSeconds(90));
            await stream.AssertExactAsync(first);
            await WaitForCommittedAsync("pg-first", TimeSpan.FromSeconds(30));

            journalRows = await AssertJournalInPostgresAsync(stream);
        }

        // Nothing went to SQLite in the data folder.
        Assert.False(File.Exists(Path.Combine(_data.Path, "metering.db")), "the postgres provider wrote a SQLite journal");

        // Another consumer group has no commits: Kafka redelivers the whole topic to the new engine,
        // which recovered every account from the PostgreSQL journal and must count nothing again.
        // This one snapshots after every event, so the snapshot store in PostgreSQL is used as well.
        var more = UsageStream.Generate(seed: 16, count: 200, accounts: 20, duplicateRate: 0, invalidRate: 0, idPrefix: "pg-later");
        var both = UsageStream.Merge(stream, more);
        await using (var second = await StartHostAsync("pg-second", "--Metering:Accounts:SnapshotEvery=1"))
        {
            await AssertRunsOnPostgresAsync(second);
            await stream.AssertExactAsync(second);
            await WaitForCommittedAsync("pg-second", TimeSpan.FromSeconds(90));
            await stream.AssertExactAsync(second);
            // The redelivery was recognised from the recovered watermarks: not one event more in the journal.
            Assert.Equal(journalRows, await AccountJournalRowsAsync());

            // The recovered engine keeps counting on top of the recovered state.
            await more.ProduceAsync(Kafka.BootstrapServers, UsageTopic);
            await both.WaitUntilCountedAsync(second, TimeSpan.FromSeconds(60));
            await both.AssertExactAsync(second);
            Assert.True(await AccountJournalRowsAsync() > journalRows, "the new events were not journaled in PostgreSQL");

            // Every account that got new events is snapshotted at its latest event.
            await Eventually.TrueAsync(async () => await Database.ScalarAsync<long>($"""
                SELECT count(*) FROM (SELECT persistence_id, max(sequence_number) AS seq FROM journal WHERE {AccountRow} GROUP BY persistence_id) j
                JOIN (SELECT persistence_id, max(sequence_number) AS seq FROM snapshot GROUP BY persistence_id) s USING (persistence_id)
                WHERE s.seq = j.seq
                """) == more.Expected.Count, TimeSpan.FromSeconds(15), "the accounts' snapshots never reached PostgreSQL");
        }

        // A third engine recovers from those snapshots and, again, counts nothing of a full redelivery twice.
        await using var third = await StartHostAsync("pg-third");
        await AssertRunsOnPostgresAsync(third);
        await both.AssertExactAsync(third);
        var rows = await AccountJournalRowsAsync();
        await WaitForCommittedAsync("pg-third", TimeSpan.FromSeconds(90));
        await both.AssertExactAsync(third);
        Assert.Equal(rows, await AccountJournalRowsAsync());
    }

    private static async Task AssertRunsOnPostgresAsync(MeteringHost host)
    {
        var system = await host.Http.GetFromJsonAsync<JsonElement>("/api/v1/system");
        Assert.Equal("postgres", system.GetProperty("persistence").GetProperty("provider").GetString());

        var ready = await host.Http.GetAsync("/health/ready");
        var body = await ready.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(ready.StatusCode == HttpStatusCode.OK, $"not ready: {body}");
        Assert.Equal("Healthy", body.GetProperty("status").GetString());
        Assert.Equal("Healthy", body.GetProperty("checks").GetProperty("journal").GetProperty("status").GetString());
    }

    /// <summary>The tables Akka.Persistence.Sql created, and what they hold. Returns the accounts' journal rows.</summary>
    private async Task<long> AssertJournalInPostgresAsync(UsageStream stream)
    {
        var tables = new List<string>();
        await using (var connection = await Database.OpenAsync())
        await using (var command = new NpgsqlCommand(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync()) tables.Add(reader.GetString(0));
        }
        Assert.Subset(tables.ToHashSet(), new HashSet<string> { "journal", "snapshot", "tags" });

        // One journal row per persisted batch of an account, each account's sequence gap-free from 1.
        // (The shard coordinator journals its state here too, under /system/sharding/...)
        var rows = await AccountJournalRowsAsync();
        Assert.InRange(rows, stream.Expected.Count, stream.ExpectedEventsProcessed);
        Assert.Equal(stream.Expected.Count, await Database.ScalarAsync<long>($"SELECT count(DISTINCT persistence_id) FROM journal WHERE {AccountRow}"));
        Assert.Equal(rows, await Database.ScalarAsync<long>(
            $"SELECT sum(max_seq) FROM (SELECT max(sequence_number) AS max_seq FROM journal WHERE {AccountRow} GROUP BY persistence_id) s"));
        // Nothing is tagged: the projections read the journal in order, and untagged rows are inserted many per statement.
        Assert.Equal(0, await Database.ScalarAsync<long>("SELECT count(*) FROM tags"));
        return rows;
    }

    private const string AccountRow = "persistence_id LIKE 'account-%'";

    private Task<long> AccountJournalRowsAsync() => Database.ScalarAsync<long>($"SELECT count(*) FROM journal WHERE {AccountRow}");

    /// <summary>Until the group has committed every offset of the usage topic: all it was sent is consumed.</summary>
    private async Task WaitForCommittedAsync(string group, TimeSpan timeout)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = Kafka.BootstrapServers,
            GroupId = group,
            EnableAutoCommit = false,
        }).Build();
        var partitions = Enumerable.Range(0, UsagePartitions).Select(p => new TopicPartition(UsageTopic, p)).ToList();
        var ends = partitions.ToDictionary(p => p, p => consumer.QueryWatermarkOffsets(p, TimeSpan.FromSeconds(10)).High.Value);
        await Eventually.TrueAsync(() =>
        {
            try
            {
                var committed = consumer.Committed(partitions, TimeSpan.FromSeconds(10));
                return Task.FromResult(committed.All(c => ends[c.TopicPartition] == 0 || c.Offset.Value >= ends[c.TopicPartition]));
            }
            catch (KafkaException)
            {
                return Task.FromResult(false);
            }
        }, timeout, $"consumer group {group} never committed the whole topic");
    }
}
