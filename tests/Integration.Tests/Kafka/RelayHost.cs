using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using TicketQueue.Grains.DomainEvents.Relay;

namespace TicketQueue.Integration.Tests.Kafka;

/// <summary>
/// A host running what a cluster silo runs for the outbox: an <see cref="NpgsqlDataSource"/> and
/// <see cref="OutboxRelayRegistration.AddOutboxRelay"/>. Its PostgreSQL sessions carry the relay's name as
/// application name, so a test can cut them as if the process had died.
/// </summary>
public sealed class RelayHost : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly ConcurrentQueue<string> _log;

    private RelayHost(string name, IHost host, ConcurrentQueue<string> log)
    {
        Name = name;
        _host = host;
        _log = log;
    }

    public string Name { get; }

    public OutboxRelay Relay => _host.Services.GetRequiredService<OutboxRelay>();

    public OutboxLagMonitor LagMonitor => _host.Services.GetRequiredService<OutboxLagMonitor>();

    public IServiceProvider Services => _host.Services;

    /// <summary>What the relay logged at Information and above, for failure messages.</summary>
    public IReadOnlyCollection<string> Log => _log;

    /// <summary>Settings fast enough for tests; <paramref name="settings"/> override them (keys below <c>TicketQueue:Events:</c>).</summary>
    public static Dictionary<string, string?> Settings(string bootstrapServers, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = bootstrapServers,
            ["PollInterval"] = "00:00:00.050",
            ["OwnershipInterval"] = "00:00:00.300",
            ["LagInterval"] = "00:00:00.200",
            ["InitialBackoff"] = "00:00:00.100",
            ["MaxBackoff"] = "00:00:01",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return all.ToDictionary(p => $"{OutboxRelayOptions.SectionName}:{p.Key}", p => p.Value);
    }

    public static async Task<RelayHost> Start(string name, string connectionString, string bootstrapServers,
        IReadOnlyDictionary<string, string?>? settings = null, Action<OutboxRelay>? beforeStart = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(Settings(bootstrapServers, settings));
        var log = new ConcurrentQueue<string>();
        builder.Logging.AddProvider(new QueueLoggerProvider(name, log)).SetMinimumLevel(LogLevel.Information);
        var named = new NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = name }.ConnectionString;
        builder.Services.AddSingleton(_ => NpgsqlDataSource.Create(named));
        builder.Services.AddOutboxRelay(builder.Configuration);
        var host = builder.Build();
        beforeStart?.Invoke(host.Services.GetRequiredService<OutboxRelay>());
        await host.StartAsync(TestContext.Current.CancellationToken);
        return new RelayHost(name, host, log);
    }

    public Task Stop() => _host.StopAsync(CancellationToken.None);

    /// <summary>Stops the host and writes what the relay logged to the test's output.</summary>
    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync(CancellationToken.None);
        _host.Dispose();
        foreach (var line in _log)
        {
            TestContext.Current.TestOutputHelper?.WriteLine(line);
        }
    }

    private sealed class QueueLoggerProvider(string name, ConcurrentQueue<string> log) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new QueueLogger(name, log);

        public void Dispose()
        {
        }
    }

    private sealed class QueueLogger(string name, ConcurrentQueue<string> log) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            log.Enqueue($"{DateTime.UtcNow:HH:mm:ss.fff} {name} {logLevel}: {formatter(state, exception)}{(exception is null ? "" : " " + exception.GetType().Name + ": " + exception.Message)}");
        }
    }
}
