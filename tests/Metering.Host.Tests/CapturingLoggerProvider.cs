using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Metering.Host.Tests;

/// <summary>One log line as a logger received it: its level, category and formatted text with the exception.</summary>
public sealed record CapturedLog(LogLevel Level, string Category, string Text);

/// <summary>Keeps every log line written through it, to assert on what was (or was not) logged.</summary>
public sealed class CapturingLoggerProvider(ConcurrentQueue<CapturedLog> logs) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, logs);

    public void Dispose()
    {
    }

    private sealed class Logger(string category, ConcurrentQueue<CapturedLog> logs) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            logs.Enqueue(new CapturedLog(logLevel, category, $"{formatter(state, exception)} {exception}"));
    }
}
