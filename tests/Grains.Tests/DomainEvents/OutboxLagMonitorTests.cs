using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using TicketQueue.Grains.DomainEvents.Relay;

namespace TicketQueue.Grains.Tests.DomainEvents;

public sealed class OutboxLagMonitorTests
{
    [Theory]
    [InlineData("", true)]
    [InlineData("127.0.0.1:9092", false)]
    public async Task A_cluster_silo_without_Kafka_warns_at_start_that_its_outbox_only_grows(string brokers, bool warned)
    {
        // A database nothing listens on: the monitor's measurements fail, which is not what this is about.
        await using var database = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Timeout=1");
        var services = new ServiceCollection().AddSingleton(database).AddMetrics().BuildServiceProvider();
        var options = new OutboxRelayOptions { Kafka = { BootstrapServers = brokers }, LagInterval = TimeSpan.FromMinutes(1) };
        var log = new RecordingLog();
        using var monitor = new OutboxLagMonitor(services, Options.Create(options), services.GetRequiredService<IMeterFactory>(), TimeProvider.System, log);

        await monitor.StartAsync(TestContext.Current.CancellationToken);
        // Its first measurement has failed (nothing listens): the start is behind it.
        for (var i = 0; i < 100 && !log.Has("Measuring the outbox lag failed"); i++)
        {
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        await monitor.StopAsync(TestContext.Current.CancellationToken);
        Assert.True(log.Has("Measuring the outbox lag failed"), "the monitor never ran");

        // Before, nothing said so: the table grew with every join, and the health check stayed Healthy.
        Assert.Equal(warned, log.Has("No Kafka is configured (TicketQueue:Events:Kafka:BootstrapServers is empty)"));
    }

    private sealed class RecordingLog : ILogger<OutboxLagMonitor>
    {
        private readonly List<string> _warnings = [];

        public bool Has(string text)
        {
            lock (_warnings)
            {
                return _warnings.Any(w => w.Contains(text, StringComparison.Ordinal));
            }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel == LogLevel.Warning)
            {
                lock (_warnings)
                {
                    _warnings.Add(formatter(state, exception));
                }
            }
        }
    }
}
