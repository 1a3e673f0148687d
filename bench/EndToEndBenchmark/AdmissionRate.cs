using System.Diagnostics;

namespace TicketQueue.EndToEndBenchmark;

/// <summary>
/// How fast the queue admitted, from the batches the observers saw. A batch after which people were still
/// waiting was sized by the admission credit, not by the line: the achieved rate is measured over runs of
/// such batches (each one's size over the time since the batch before it, which was also full), so the
/// ramp-up and the last, partly empty ticks do not count.
/// </summary>
/// <remarks>
/// <see cref="AchievedPerMinute"/> divides by the times the queue grain stamped on its batches, which are the
/// times it sized them by: it shows the pacing arithmetic. <see cref="ObservedPerMinute"/> divides the same
/// admissions by the time between the observer receiving the batches, on the benchmark's own stopwatch: a
/// queue that stamped its batches with times it did not keep (or stalled between ticks) shows here.
/// </remarks>
internal sealed record AdmissionRate(
    int ConfiguredPerMinute,
    double ExpectedPerTick,
    double? AchievedPerMinute,
    double? ObservedPerMinute,
    int FullTicks,
    double? MeanPerFullTick,
    long? MinPerFullTick,
    long? MaxPerFullTick,
    double MeanTickGapSeconds,
    double MaxTickGapSeconds,
    IReadOnlyList<long> PerMinute)
{
    public static AdmissionRate From(IReadOnlyList<AdmissionBatch> batches, int configuredPerMinute, TimeSpan tick)
    {
        var gaps = batches.Zip(batches.Skip(1), (a, b) => (b.AdmittedAt - a.AdmittedAt).TotalSeconds).ToArray();
        var full = batches.Zip(batches.Skip(1), (previous, batch) => (Previous: previous, Batch: batch))
            .Where(p => p.Previous.BacklogAfter > 0 && p.Batch.BacklogAfter > 0).ToArray();
        var fullSeconds = full.Sum(p => (p.Batch.AdmittedAt - p.Previous.AdmittedAt).TotalSeconds);
        var receivedSeconds = full.Sum(p => (double)(p.Batch.ReceivedAt - p.Previous.ReceivedAt) / Stopwatch.Frequency);
        var perMinute = new List<long>();
        if (batches.Count > 0)
        {
            var first = batches[0].AdmittedAt;
            foreach (var batch in batches)
            {
                var minute = (int)((batch.AdmittedAt - first).TotalSeconds / 60);
                while (perMinute.Count <= minute)
                {
                    perMinute.Add(0);
                }

                perMinute[minute] += batch.Size;
            }
        }

        return new AdmissionRate(
            configuredPerMinute,
            configuredPerMinute / 60.0 * tick.TotalSeconds,
            fullSeconds > 0 ? full.Sum(p => p.Batch.Size) / fullSeconds * 60 : null,
            receivedSeconds > 0 ? full.Sum(p => p.Batch.Size) / receivedSeconds * 60 : null,
            full.Length,
            full.Length > 0 ? full.Average(p => p.Batch.Size) : null,
            full.Length > 0 ? full.Min(p => p.Batch.Size) : null,
            full.Length > 0 ? full.Max(p => p.Batch.Size) : null,
            gaps.DefaultIfEmpty().Average(),
            gaps.DefaultIfEmpty().Max(),
            perMinute);
    }
}
