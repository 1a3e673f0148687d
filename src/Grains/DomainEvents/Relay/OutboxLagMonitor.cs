using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace TicketQueue.Grains.DomainEvents.Relay;

/// <summary>
/// Measures the outbox lag every <see cref="OutboxRelayOptions.LagInterval"/> and publishes it as the gauges
/// <c>ticketqueue.outbox.unshipped</c> and <c>ticketqueue.outbox.oldest_age_seconds</c> of the meter
/// <c>TicketQueue.Outbox</c>; logs a warning when the oldest unshipped event passes the alert threshold.
/// Without a PostgreSQL outbox (embedded mode) it measures nothing and the gauges stay silent.
/// </summary>
public sealed class OutboxLagMonitor : BackgroundService
{
    public const string MeterName = "TicketQueue.Outbox";

    private readonly NpgsqlDataSource? _database;
    private readonly OutboxRelayOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<OutboxLagMonitor> _logger;
    private volatile OutboxLag? _current;
    private bool _alerting;

    public OutboxLagMonitor(IServiceProvider services, IOptions<OutboxRelayOptions> options, IMeterFactory meters,
        TimeProvider time, ILogger<OutboxLagMonitor> logger)
    {
        _database = services.GetService<NpgsqlDataSource>();
        _options = options.Value;
        _time = time;
        _logger = logger;

        var meter = meters.Create(MeterName);
        meter.CreateObservableGauge("ticketqueue.outbox.unshipped",
            () => _current is { } lag ? [new Measurement<long>(lag.Unshipped)] : Array.Empty<Measurement<long>>(),
            unit: "{event}", description: "Domain events recorded in the outbox and not yet acknowledged by Kafka");
        meter.CreateObservableGauge("ticketqueue.outbox.oldest_age_seconds",
            () => _current is { } lag ? [new Measurement<double>(lag.OldestAgeSeconds)] : Array.Empty<Measurement<double>>(),
            unit: "s", description: "Age of the oldest domain event not yet acknowledged by Kafka");
    }

    /// <summary>The counter of outbox events deleted after their retention: the relay's and, without Kafka, the pruner's.</summary>
    public static Counter<long> PrunedCounter(IMeterFactory meters) =>
        meters.Create(MeterName).CreateCounter<long>("ticketqueue.outbox.pruned", unit: "{event}",
            description: "Outbox events deleted after their retention");

    /// <summary>The latest measurement, or null before the first one (and always without an outbox).</summary>
    public OutboxLag? Current => _current;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_database is null)
        {
            return;
        }

        if (!_options.RelayEnabled)
        {
            // Said once at start: the table grows with every join and purchase, and nothing else tells.
            _logger.LogWarning("No Kafka is configured ({Setting} is empty): domain events are kept in common.outbox_events, never shipped, and deleted after {RetainUnshipped} ({RetainSetting})",
                $"{OutboxRelayOptions.SectionName}:Kafka:BootstrapServers", _options.RetainUnshipped, $"{OutboxRelayOptions.SectionName}:RetainUnshipped");
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var lag = await OutboxLag.Measure(_database, stoppingToken);
                _current = lag;
                ReportAlert(lag);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // An unknown lag is not reported as zero: the gauges go silent until the next good measurement.
                _current = null;
                _logger.LogWarning(e, "Measuring the outbox lag failed");
            }

            try
            {
                await Task.Delay(_options.LagInterval, _time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void ReportAlert(OutboxLag lag)
    {
        // Without a relay nothing is expected to leave the outbox, so a growing backlog is not an alarm.
        var alert = _options.RelayEnabled && lag.OldestAgeSeconds > _options.LagAlertSeconds;
        if (alert && !_alerting)
        {
            _logger.LogWarning("The outbox relay is behind: {Unshipped} events unshipped, the oldest {OldestAgeSeconds:F0} s old (alert above {LagAlertSeconds} s)",
                lag.Unshipped, lag.OldestAgeSeconds, _options.LagAlertSeconds);
        }
        else if (!alert && _alerting)
        {
            _logger.LogInformation("The outbox relay caught up: {Unshipped} events unshipped", lag.Unshipped);
        }

        _alerting = alert;
    }
}
