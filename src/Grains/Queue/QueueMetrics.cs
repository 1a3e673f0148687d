using System.Diagnostics.Metrics;

namespace TicketQueue.Grains.Queue;

/// <summary>
/// The queue's instruments, on the meter <c>TicketQueue.Queue</c>. The tick's duration shows whether
/// admission keeps its fixed cost as the line grows (bench/TickBenchmark reads it with a MeterListener).
/// </summary>
public static class QueueMetrics
{
    public const string MeterName = "TicketQueue.Queue";
    public const string TickDurationName = "ticketqueue.queue.tick.duration";

    private static readonly Meter QueueMeter = new(MeterName);

    /// <summary>
    /// Wall time of one admission tick of one event's queue grain, storage write included, tagged
    /// <c>outcome</c> = <c>admitted</c> (the cursor moved: state written, gateways told) or <c>idle</c>.
    /// </summary>
    public static readonly Histogram<double> TickDuration = QueueMeter.CreateHistogram<double>(
        TickDurationName, unit: "ms", description: "Wall time of one admission tick of an event's queue grain.");

    internal static readonly KeyValuePair<string, object?> Admitting = new("outcome", "admitted");
    internal static readonly KeyValuePair<string, object?> Idle = new("outcome", "idle");
}
