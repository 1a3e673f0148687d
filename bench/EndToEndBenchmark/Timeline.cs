using System.Diagnostics;

namespace TicketQueue.EndToEndBenchmark;

/// <summary>One moment of the run: seconds since the first arrival, joins answered, users admitted (the serving cursor).</summary>
internal sealed record TimelinePoint(double Seconds, long Joined, long Admitted);

/// <summary>Joined and admitted counts, sampled at a fixed interval for the chart and the progress lines.</summary>
internal sealed class Timeline(Func<long> joined, Func<long> admitted)
{
    private readonly List<TimelinePoint> _points = [];

    public IReadOnlyList<TimelinePoint> Points => _points;

    public async Task Run(long startedAt, TimeSpan interval, TimeSpan reportEvery, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(interval);
        var nextReport = reportEvery;
        try
        {
            do
            {
                var point = new TimelinePoint(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, joined(), admitted());
                _points.Add(point);
                if (point.Seconds >= nextReport.TotalSeconds)
                {
                    Console.Error.WriteLine($"  ... {point.Seconds,5:F0} s: {point.Joined,9:N0} joined, {point.Admitted,9:N0} admitted");
                    nextReport += reportEvery;
                }
            }
            while (await timer.WaitForNextTickAsync(stop));
        }
        catch (OperationCanceledException)
        {
        }
    }
}
