using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Akka.Event;
using Akka.Hosting.Logging;
using Metering.Host.Telemetry;
using Microsoft.Extensions.Logging;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Metering.Host.Tests;

/// <summary>The engine's Akka logger over a real actor system: what Akka.Remote logs when a peer's connection closes is a warning, every other error stays an error.</summary>
public sealed class AkkaLoggerTests : IAsyncLifetime
{
    private const string WriterPath = "akka://metering/system/endpointManager/reliableEndpointWriter-akka.tcp%3A%2F%2Fmetering%40127.0.0.1%3A4053-2/endpointWriter";
    private readonly ConcurrentQueue<CapturedLog> _logs = new();
    private ActorSystem _system = null!;

    public Task InitializeAsync()
    {
        var factory = LoggerFactory.Create(b => b.AddProvider(new CapturingLoggerProvider(_logs)));
        var config = ConfigurationFactory.ParseString($"akka.loggers = [\"{typeof(AkkaLogger).AssemblyQualifiedName}\"]");
        _system = ActorSystem.Create("logger-test", ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config), new LoggerFactorySetup(factory)));
        return Task.CompletedTask;
    }

    public Task DisposeAsync() => _system.Terminate();

    [Fact]
    public async Task A_peer_closing_its_connection_is_logged_as_a_warning_not_an_error()
    {
        // The exception Akka.Remote's endpoint writer fails with when its reader sees the connection close.
        var type = typeof(Akka.Remote.RemoteSettings).Assembly.GetType("Akka.Remote.EndpointDisassociatedException", throwOnError: true)!;
        var disassociated = (Exception)Activator.CreateInstance(type, "Disassociated")!;

        _system.EventStream.Publish(new Error(disassociated, WriterPath, typeof(AkkaLoggerTests), "Disassociated"));

        var log = await LoggedAsync("Disassociated");
        Assert.Equal(LogLevel.Warning, log.Level);
        Assert.Contains(WriterPath, log.Text);
    }

    [Fact]
    public async Task Any_other_error_stays_an_error()
    {
        _system.EventStream.Publish(new Error(new InvalidOperationException("journal down"), WriterPath, typeof(AkkaLoggerTests), "Disassociated too"));
        _system.EventStream.Publish(new Error(null, "akka://metering/user/accounts", typeof(AkkaLoggerTests), "persist failed"));

        Assert.Equal(LogLevel.Error, (await LoggedAsync("Disassociated too")).Level);
        Assert.Equal(LogLevel.Error, (await LoggedAsync("persist failed")).Level);
    }

    private async Task<CapturedLog> LoggedAsync(string text)
    {
        CapturedLog? Find() => _logs.FirstOrDefault(l => l.Text.Contains(text, StringComparison.Ordinal));
        await Eventually.TrueAsync(() => Task.FromResult(Find() is not null), TimeSpan.FromSeconds(10), $"nothing logged with \"{text}\"");
        return Find()!;
    }
}
