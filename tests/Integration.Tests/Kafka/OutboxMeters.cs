using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using TicketQueue.Grains.DomainEvents.Relay;

namespace TicketQueue.Integration.Tests.Kafka;

/// <summary>
/// Listens to the <c>TicketQueue.Outbox</c> meter of one host (meters of other hosts in the process are
/// told apart by their factory): counter totals and the latest gauge values.
/// </summary>
public sealed class OutboxMeters : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, double> _counters = new();
    private readonly ConcurrentDictionary<string, double> _gauges = new();

    public OutboxMeters(IServiceProvider services)
    {
        var factory = services.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == OutboxLagMonitor.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) => Record(instrument, value));
        _listener.SetMeasurementEventCallback<int>((instrument, value, _, _) => Record(instrument, value));
        _listener.SetMeasurementEventCallback<double>((instrument, value, _, _) => Record(instrument, value));
        _listener.Start();
    }

    public double Counter(string name) => _counters.GetValueOrDefault(name);

    /// <summary>The gauge's value now, or null when it reports nothing.</summary>
    public double? Gauge(string name)
    {
        _gauges.TryRemove(name, out _);
        _listener.RecordObservableInstruments();
        return _gauges.TryGetValue(name, out var value) ? value : null;
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value)
    {
        if (instrument is Counter<long>)
        {
            _counters.AddOrUpdate(instrument.Name, value, (_, total) => total + value);
        }
        else
        {
            _gauges[instrument.Name] = value;
        }
    }
}
