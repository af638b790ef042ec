using System.Collections.ObjectModel;
using System.Data.Common;
using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Akka.Actor;
using Metering.Accounts;
using Metering.Accounts.Persistence;
using Metering.Ingestion.Consumer;
using Metering.Ingestion.Kafka;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;
using Metering.Tests.Shared;

namespace Metering.Host.Tests;

/// <summary>What an SRE sees: <c>/metrics</c> after a known stream, one trace from HTTP ingest to persist, readiness.</summary>
public sealed partial class ObservabilityTests : IDisposable
{
    private const string UsageTopic = "metering.usage";

    private readonly EmbeddedKafkaBroker _kafka;
    private readonly TempDir _data = new();

    public ObservabilityTests()
    {
        _kafka = TestBackends.StartKafka();
    }

    public void Dispose()
    {
        _kafka.Dispose();
        _data.Dispose();
    }

    [Fact]
    public async Task Metrics_count_exactly_what_was_sent_duplicated_and_dead_lettered()
    {
        var stream = UsageStream.Generate(seed: 11, count: 3_000, accounts: 30, duplicateRate: 0.05, invalidRate: 0.03);
        await using var host = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers);
        await stream.ProduceAsync(_kafka.BootstrapServers, UsageTopic);
        await stream.WaitUntilCountedAsync(host, TimeSpan.FromSeconds(60));

        PrometheusScrape scrape = null!;
        await Eventually.TrueAsync(async () =>
        {
            scrape = await PrometheusScrape.FromAsync(host);
            return scrape.Sum("metering_events_consumed_total") == stream.Messages.Count
                && scrape.Sum("metering_events_dead_lettered_total") == stream.ExpectedReasons.Count
                && scrape.Sum("metering_accounts_active") == stream.Expected.Count;
        }, TimeSpan.FromSeconds(30), "the counters never reached the stream's totals");

        Assert.Equal(stream.ExpectedEventsProcessed, scrape.Sum("metering_events_accepted_total"));
        Assert.Equal(stream.Duplicates, scrape.Sum("metering_events_duplicates_total"));
        Assert.Equal(0, scrape.Sum("metering_events_redelivered_total"));
        foreach (var reason in stream.ExpectedReasons.Distinct())
            Assert.Equal(stream.ExpectedReasons.Count(r => r == reason), scrape.Sum("metering_events_dead_lettered_total", ("reason", reason)));

        // Every record went through one batch and got one ingest-to-balance latency.
        Assert.Equal(stream.Messages.Count, scrape.Sum("metering_batch_size_sum"));
        Assert.Equal(stream.Messages.Count - stream.ExpectedReasons.Count, scrape.Sum("metering_events_latency_seconds_count"));
        Assert.Equal(scrape.Sum("metering_batch_size_count"), scrape.Sum("metering_batch_persist_duration_seconds_count"));
        // All read: every assigned partition reports lag, and it is zero.
        var lag = scrape.Series("metering_consumer_lag").ToList();
        Assert.Equal(8, lag.Select(s => s.Labels["partition"]).Distinct().Count());
        Assert.All(lag, s => Assert.Equal(0, s.Value));
        // A cluster of one: one member Up holding every shard that has an account.
        Assert.Equal(1, scrape.Sum("metering_cluster_members", ("status", "up")));
        Assert.Equal(0, scrape.Sum("metering_cluster_unreachable_members"));
        Assert.InRange(scrape.Sum("metering_cluster_shards"), 1, 100);
        Assert.True(scrape.Sum("http_server_request_duration_seconds_count") > 0);
    }

    [Fact]
    public async Task One_trace_runs_from_the_HTTP_ingest_through_Kafka_and_the_shard_region_to_the_persist()
    {
        var spans = new SpanList();
        await using var host = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers, "metering",
            b => b.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)), "--Metering:Telemetry:Traces=true");

        var traceId = ActivityTraceId.CreateRandom();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events")
        {
            Content = new ByteArrayContent(UsageStream.Event("traced-1", "crm.lead.created", "acct-traced", new { quantity = 3 })),
        };
        request.Content.Headers.ContentType = new("application/cloudevents+json");
        request.Headers.Add("traceparent", $"00-{traceId}-{ActivitySpanId.CreateRandom()}-01");
        Assert.Equal(HttpStatusCode.Accepted, (await host.Http.SendAsync(request)).StatusCode);

        // The batch span ends last, after every account of the batch answered.
        Activity? Batch() => spans.Snapshot().SingleOrDefault(s => s.Kind == ActivityKind.Consumer && s.Links.Any(l => l.Context.TraceId == traceId));
        await Eventually.TrueAsync(() => Task.FromResult(Batch() is not null), TimeSpan.FromSeconds(30), "the batch was never traced");
        var trace = spans.Snapshot().Where(s => s.TraceId == traceId).ToArray();

        var http = Assert.Single(trace, s => s.Kind == ActivityKind.Server);
        var record = Assert.Single(trace, s => s.Source.Name == IngestionTracing.SourceName);
        var persist = Assert.Single(trace, s => s.Source.Name == AccountTelemetry.SourceName);
        Assert.Equal("record usage", record.OperationName);
        Assert.Equal(http.SpanId, record.ParentSpanId); // the Kafka header carried the HTTP span's context
        Assert.Equal(record.SpanId, persist.ParentSpanId); // the shard region message carried the consumer's
        Assert.Equal("acct-traced", persist.GetTagItem("metering.account_id"));
        Assert.True(persist.Duration > TimeSpan.Zero && persist.StartTimeUtc >= record.StartTimeUtc);

        // The batch span that consumed it is a trace of its own, linked to the producer and from the account's span.
        var batch = Batch()!;
        Assert.NotEqual(traceId, batch.TraceId);
        Assert.Contains(record.Links, l => l.Context.SpanId == batch.SpanId);
    }

    [Fact]
    public async Task Without_a_collector_the_engine_makes_no_spans()
    {
        var spans = new SpanList();
        await using var host = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers, "metering",
            b => b.Services.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/events")
        {
            Content = new ByteArrayContent(UsageStream.Event("untraced-1", "crm.lead.created", "acct-untraced", new { quantity = 1 })),
        };
        request.Content.Headers.ContentType = new("application/cloudevents+json");
        request.Headers.Add("traceparent", $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-01");
        Assert.Equal(HttpStatusCode.Accepted, (await host.Http.SendAsync(request)).StatusCode);
        await Eventually.TrueAsync(async () => (await host.OverviewAsync("acct-untraced")).GetProperty("eventsProcessed").GetInt64() == 1,
            TimeSpan.FromSeconds(30), "the event was never recorded");

        Assert.Empty(spans.Snapshot());
    }

    [Fact]
    public async Task Readiness_goes_red_when_the_node_leaves_the_cluster()
    {
        await using var host = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers);
        var cluster = Akka.Cluster.Cluster.Get(host.Services.GetRequiredService<ActorSystem>());
        cluster.Leave(cluster.SelfAddress);

        string body = "";
        await Eventually.TrueAsync(async () =>
        {
            using var response = await host.Http.GetAsync("/health/ready");
            body = await response.Content.ReadAsStringAsync();
            return response.StatusCode == HttpStatusCode.ServiceUnavailable;
        }, TimeSpan.FromSeconds(30), "readiness stayed green after the node left");
        Assert.Matches("is (Leaving|Exiting|Removed|Down)", body);
    }

    [Fact]
    public async Task Readiness_goes_red_while_the_consumer_cannot_commit_and_green_once_it_can()
    {
        await using var host = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers, "metering", configure: null, "--Metering:Kafka:StuckAfter=00:00:03");
        var stream = UsageStream.Generate(seed: 21, count: 50, accounts: 2, duplicateRate: 0, invalidRate: 0);
        // One event first: the journal's tables are created on first use, and the lock needs them.
        await new UsageStream().ProduceAsync(_kafka.BootstrapServers, UsageTopic,
            [("acct-warm", UsageStream.Event("warm-1", "crm.lead.created", "acct-warm", new { quantity = 1 }))]);
        await Eventually.TrueAsync(async () => (await host.OverviewAsync("acct-warm")).GetProperty("eventsProcessed").GetInt64() == 1,
            TimeSpan.FromSeconds(30), "the first event was never counted");

        await using (await JournalWriteLock.TakeAsync(host.Services.GetRequiredService<JournalDatabase>()))
        {
            await stream.ProduceAsync(_kafka.BootstrapServers, UsageTopic);
            string body = "";
            await Eventually.TrueAsync(async () =>
            {
                using var response = await host.Http.GetAsync("/health/ready");
                body = await response.Content.ReadAsStringAsync();
                return response.StatusCode == HttpStatusCode.ServiceUnavailable;
            }, TimeSpan.FromSeconds(30), "readiness stayed green while no batch could persist");
            Assert.Contains("consumer stuck", body);
            Assert.Contains("journal reachable", body); // the journal answers reads; only writes wait
        }

        await stream.WaitUntilCountedAsync(host, TimeSpan.FromSeconds(90));
        await Eventually.TrueAsync(async () => (await host.Http.GetAsync("/health/ready")).IsSuccessStatusCode,
            TimeSpan.FromSeconds(30), "readiness stayed red after batches committed again");
    }

    [Fact]
    public async Task The_dashboard_and_alert_rules_load_and_name_only_metrics_the_engine_exports()
    {
        var root = RepositoryRoot();
        var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "deploy/grafana/dashboards/metering.json"))).RootElement;
        Assert.Equal("metering-overview", dashboard.GetProperty("uid").GetString());
        var panels = dashboard.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row").ToList();
        Assert.All(panels, p => Assert.NotEmpty(p.GetProperty("targets").EnumerateArray()));
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("title").GetString()).Distinct().Count());
        var expressions = panels.SelectMany(p => p.GetProperty("targets").EnumerateArray()).Select(t => t.GetProperty("expr").GetString()!).ToList();

        var alerts = new DeserializerBuilder().WithNamingConvention(CamelCaseNamingConvention.Instance).Build()
            .Deserialize<AlertFile>(File.ReadAllText(Path.Combine(root, "deploy/prometheus/alerts.yml")));
        var rules = Assert.Single(alerts.Groups).Rules;
        Assert.Equal(["MeteringConsumerLagGrowing", "MeteringConsumerStuck", "MeteringUsageLost", "MeteringDeadLetterSpike", "MeteringNodeUnreachable",
            "MeteringNotificationFailures", "MeteringRechargeFailures", "MeteringSlowRecovery"], rules.Select(r => r.Alert));
        Assert.All(rules, r => Assert.False(string.IsNullOrWhiteSpace(r.Expr) || string.IsNullOrWhiteSpace(r.For) || !r.Annotations.ContainsKey("summary")));
        expressions.AddRange(rules.Select(r => r.Expr));

        // Make the engine export every metric once: usage over HTTP, a dead letter, a recharge, an invoice,
        // a notification delivered and one refused by its webhook, and an idle account passivated.
        await using var host = await MeteringHost.StartAsync(_data.Path, _kafka.BootstrapServers, "metering", configure: null, "--Metering:Accounts:PassivateAfter=00:00:02",
            // The refusing webhook listens on loopback over http.
            "--Metering:Notifications:AllowPrivateWebhooks=true", "--Metering:Notifications:AllowHttpWebhooks=true");
        await host.SendAsync(HttpMethod.Put, "/api/v1/accounts/acct-obs/preferences", new
        {
            billingInfo = new { name = "Obs" },
            notifications = new
            {
                renewalReminderDays = 7, invoiceDueReminderDays = 3, channels = new[] { "kafka", "webhook" },
                webhookUrl = new Uri(host.Http.BaseAddress!, "/no-such-webhook").ToString(), webhookSecret = "whsec_0123456789abcdef",
            },
        });
        await host.SendAsync(HttpMethod.Post, "/api/v1/accounts/acct-obs/payment-methods",
            new { type = "card", number = "4242424242424242", expMonth = 12, expYear = 2031, cvc = "123", holderName = "Ada Lovelace", makeDefault = true }, HttpStatusCode.Created);
        await host.SendAsync(HttpMethod.Put, "/api/v1/accounts/acct-obs/auto-recharge", new { enabled = true, threshold = 5m, amount = 20m });
        await host.SendAsync(HttpMethod.Post, "/api/v1/accounts/acct-obs/subscriptions", new { planId = "starter" }, HttpStatusCode.Created);
        using var content = new ByteArrayContent(UsageStream.Event("obs-1", "crm.lead.created", "acct-obs", new { quantity = 1 }));
        content.Headers.ContentType = new("application/cloudevents+json");
        Assert.Equal(HttpStatusCode.Accepted, (await host.Http.PostAsync("/api/v1/events", content)).StatusCode);
        await new UsageStream().ProduceAsync(_kafka.BootstrapServers, UsageTopic, [("acct-obs", Encoding.UTF8.GetBytes("not json"))]);

        var referenced = expressions.SelectMany(MetricNames).ToHashSet();
        Assert.Contains("metering_consumer_lag", referenced); // the extraction finds names at all
        string[] missing = [];
        await Eventually.TrueAsync(async () =>
        {
            var exported = (await PrometheusScrape.FromAsync(host)).Names;
            missing = referenced.Where(n => !exported.Contains(n)).Order().ToArray();
            return missing.Length == 0;
        }, TimeSpan.FromSeconds(30), $"referenced but not exported: {string.Join(", ", missing)}");
    }

    /// <summary>
    /// Holds the journal's write lock from outside, as a stuck disk or a locked table would: readers
    /// go on, the engine's writes wait until it is released.
    /// </summary>
    private sealed class JournalWriteLock(DbConnection connection, DbTransaction transaction) : IAsyncDisposable
    {
        public static async Task<JournalWriteLock> TakeAsync(JournalDatabase journal)
        {
            var connection = journal.Open();
            // SQLite: a write transaction (BEGIN IMMEDIATE) takes the database's only write lock.
            var transaction = await connection.BeginTransactionAsync();
            if (journal.Provider == "postgres")
            {
                await using var command = connection.CreateCommand();
                command.Transaction = transaction;
                command.CommandText = "LOCK TABLE journal IN EXCLUSIVE MODE"; // blocks inserts, not reads
                await command.ExecuteNonQueryAsync();
            }
            return new JournalWriteLock(connection, transaction);
        }

        public async ValueTask DisposeAsync()
        {
            await transaction.RollbackAsync();
            await connection.DisposeAsync();
        }
    }

    /// <summary>Metric names in a PromQL expression: identifiers that are not functions, keywords, label names or durations.</summary>
    private static IEnumerable<string> MetricNames(string expr)
    {
        var bare = LabelMatchers().Replace(expr, "");
        bare = Grouping().Replace(bare, "");
        bare = Ranges().Replace(bare, "");
        return Identifiers().Matches(bare).Select(m => m.Value)
            .Where(n => !PromQlKeywords.Contains(n) && !Regex.IsMatch(bare, $@"\b{n}\s*\("));
    }

    private static readonly HashSet<string> PromQlKeywords = ["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"];

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex LabelMatchers();

    [GeneratedRegex(@"\b(by|without|on|ignoring)\s*\([^)]*\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Ranges();

    [GeneratedRegex(@"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*")]
    private static partial Regex Identifiers();

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Metering.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("no Metering.sln above the test binaries");
    }

    private sealed class AlertFile
    {
        public List<AlertGroup> Groups { get; set; } = [];
    }

    private sealed class AlertGroup
    {
        public string Name { get; set; } = "";
        public List<AlertRule> Rules { get; set; } = [];
    }

    private sealed class AlertRule
    {
        public string Alert { get; set; } = "";
        public string Expr { get; set; } = "";
        public string For { get; set; } = "";
        public Dictionary<string, string> Labels { get; set; } = [];
        public Dictionary<string, string> Annotations { get; set; } = [];
    }

    /// <summary>The in-memory exporter adds from the engine's threads while the test reads.</summary>
    private sealed class SpanList : Collection<Activity>
    {
        public Activity[] Snapshot()
        {
            lock (Items) return Items.ToArray();
        }

        protected override void InsertItem(int index, Activity item)
        {
            lock (Items) base.InsertItem(index, item);
        }
    }
}
