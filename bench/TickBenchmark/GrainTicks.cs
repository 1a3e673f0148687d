using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using TicketQueue.Grains.Abstractions.Events;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Queue;

using TicketQueue.Bench;

namespace TicketQueue.TickBenchmark;

/// <summary>One size's whole-grain figures: the wall time of each timed tick, and what the checks found.</summary>
internal sealed record GrainTickResult(int Waiting, TimeSpan JoinTime, double[] TickMs, long Admitted, int Gen2Collections, List<string> Failures)
{
    public double Median => TicketQueue.Charts.Chart.Percentile(TickMs, 50);

    public double P99 => TicketQueue.Charts.Chart.Percentile(TickMs, 99);

    public double Max => TickMs.Length == 0 ? double.NaN : TickMs[^1];
}

/// <summary>
/// The queue grain's tick in a real silo: a fresh silo configured by <c>AddTicketQueue</c> (the embedded
/// stack: in-memory grain storage and queue records), N users joined through the shards while the queue is
/// paused, then the queue resumed and its admitting ticks timed by the grain itself
/// (<see cref="QueueMetrics.TickDuration"/>: pacing, the state write the cursor waits for, the broadcast to one
/// subscribed observer standing in for a gateway).
/// </summary>
internal static class GrainTicks
{
    public static async Task<GrainTickResult> Measure(int waiting, TickOptions options)
    {
        var failures = new List<string>();
        var quiet = new QuietSwitch();
        using var host = BuildSilo(options, quiet);
        await host.StartAsync();
        try
        {
            var grains = host.Services.GetRequiredService<IGrainFactory>();
            var eventId = $"tick-{waiting}-{DateTime.UtcNow:yyyyMMddHHmmss}";
            await grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key).Create(Event(eventId, options));
            var queue = grains.GetGrain<IEventQueueGrain>(eventId);
            await WaitFor(async () => (await queue.GetStats()).Opened, "the queue to open");

            // Fill the line while the queue is paused, so every one of them is still waiting when ticks are timed.
            var users = new Guid[waiting];
            for (var i = 0; i < users.Length; i++)
            {
                users[i] = Guid.NewGuid();
            }

            var joinWatch = Stopwatch.StartNew();
            var tickets = await JoinAll(grains, eventId, users, options.Concurrency, failures);
            joinWatch.Stop();
            CheckOneToN(tickets, failures);
            var joined = await queue.GetStats();
            Expect(joined.Issued == waiting && joined.Waiting == waiting && joined.ServingCursor == 0, failures,
                $"after the joins the queue says issued {joined.Issued:N0}, waiting {joined.Waiting:N0}, cursor {joined.ServingCursor:N0}; " +
                $"expected {waiting:N0}, {waiting:N0}, 0");

            // The joins' garbage is collected now, so a collection it would cause does not land on a timed tick by chance.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();

            var watcher = new CursorWatcher();
            var observer = grains.CreateObjectReference<IQueueObserver>(watcher);
            await queue.Subscribe(observer);

            using var ticks = new TickRecorder(options.WarmupTicks, options.Ticks);
            var gen2Before = GC.CollectionCount(2);
            await queue.UpdateSettings(new QueueSettingsUpdate(null, null, Paused: false));
            var timeout = TimeSpan.FromSeconds(30) + (options.TickInterval * (options.Ticks + options.WarmupTicks) * 10);
            if (!await ticks.Done.WaitAsync(timeout).ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default))
            {
                failures.Add($"only {ticks.Count} of {options.Ticks} timed admitting ticks within {timeout.TotalSeconds:F0} s");
            }

            var gen2 = GC.CollectionCount(2) - gen2Before;
            await queue.UpdateSettings(new QueueSettingsUpdate(null, null, Paused: true));
            var stats = await queue.GetStats();
            await CheckAdmission(grains, eventId, users, tickets, stats, watcher, failures);
            await queue.Unsubscribe(observer);
            grains.DeleteObjectReference<IQueueObserver>(observer);
            return new GrainTickResult(waiting, joinWatch.Elapsed, ticks.Sorted(), stats.ServingCursor, gen2, failures);
        }
        finally
        {
            // A stopping single silo logs errors for state writes that no longer have a storage grain to go to
            // (docs/performance.md); they come after every figure was taken.
            quiet.On = true;
            await host.StopAsync();
        }
    }

    private static IHost BuildSilo(TickOptions options, QuietSwitch quiet)
    {
        var builder = BenchSilo.Builder("tick-benchmark", () => quiet.On);
        builder.Configuration["TicketQueue:Queue:TickInterval"] = options.TickInterval.ToString("c", CultureInfo.InvariantCulture);
        builder.UseOrleans(silo => silo.AddTicketQueue(builder.Configuration));
        return builder.Build();
    }

    private static EventDefinition Event(string eventId, TickOptions options)
    {
        var now = DateTimeOffset.UtcNow;
        return new EventDefinition(eventId, $"Tick benchmark {eventId}", "Benchmark Hall",
            StartsAt: now.AddDays(30), SalesOpenAt: now.AddMinutes(-1), "KRW", TicketLimitPerUser: 4,
            Blocks: [new SeatBlockDefinition("ga", "General admission", Rows: 10, SeatsPerRow: 10, Price: 10000m)],
            // Paused until the line is full; then every tick admits AdmittedPerTick, with room for all of them.
            new QueueSettings(AdmissionsPerMinute: options.AdmissionsPerMinute, MaxActiveShoppers: 1_000_000,
                ClaimWindow: TimeSpan.FromMinutes(2), ShoppingSession: TimeSpan.FromMinutes(10), HoldDuration: TimeSpan.FromMinutes(5),
                Paused: true));
    }

    private static async Task<long[]> JoinAll(IGrainFactory grains, string eventId, Guid[] users, int concurrency, List<string> failures)
    {
        var tickets = new long[users.Length];
        var next = -1;
        long failed = 0;
        Exception? first = null;

        async Task Worker()
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= users.Length)
                {
                    return;
                }

                try
                {
                    var status = await QueueShards.For(grains, eventId, users[i]).Join(users[i]);
                    tickets[i] = status.TicketNumber ?? -1;
                }
                catch (Exception e)
                {
                    tickets[i] = -1;
                    if (Interlocked.Increment(ref failed) == 1)
                    {
                        first = e;
                    }
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, Math.Min(concurrency, users.Length)).Select(_ => Task.Run(Worker)));
        Expect(failed == 0, failures, $"{failed:N0} joins failed (first: {first?.GetType().Name}: {first?.Message})");
        return tickets;
    }

    // The queue is paused again: the cursor stands still while we look. The observer saw the cursor only
    // move forward and end where the queue says it is; the queue's counters agree with the cursor; and a
    // sample of users read back a place that agrees with their ticket and the cursor.
    private static async Task CheckAdmission(IGrainFactory grains, string eventId, Guid[] users, long[] tickets, QueueStats stats,
        CursorWatcher watcher, List<string> failures)
    {
        var waiting = users.Length;
        Expect(stats.ServingCursor > 0 && stats.Admitted == stats.ServingCursor && stats.Waiting == waiting - stats.ServingCursor, failures,
            $"the queue says cursor {stats.ServingCursor:N0}, admitted {stats.Admitted:N0}, waiting {stats.Waiting:N0} of {waiting:N0}");
        var seen = Stopwatch.StartNew();
        while (watcher.LastCursor < stats.ServingCursor && seen.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(20);
        }

        Expect(watcher.LastCursor == stats.ServingCursor && watcher.Backwards == 0, failures,
            $"the observer's last cursor is {watcher.LastCursor:N0} (queue: {stats.ServingCursor:N0}), it moved back {watcher.Backwards} times");

        var sample = Enumerable.Range(0, waiting).ToArray();
        Random.Shared.Shuffle(sample);
        var wrong = 0;
        foreach (var i in sample.Take(1_000))
        {
            var status = await QueueShards.For(grains, eventId, users[i]).GetStatus(users[i]);
            var expected = tickets[i] > stats.ServingCursor ? QueueStatusKind.Waiting : QueueStatusKind.Admitted;
            var position = Math.Max(0, tickets[i] - stats.ServingCursor);
            if (status is null || status.TicketNumber != tickets[i] || status.Status != expected || status.Position != position)
            {
                wrong++;
            }
        }

        Expect(wrong == 0, failures, $"{wrong} of {Math.Min(1_000, waiting)} sampled users read back a wrong ticket, status or position");
    }

    private static void CheckOneToN(long[] tickets, List<string> failures)
    {
        var seen = new bool[tickets.Length + 1];
        var wrong = 0;
        foreach (var ticket in tickets)
        {
            if (ticket < 1 || ticket > tickets.Length || seen[ticket])
            {
                wrong++;
            }
            else
            {
                seen[ticket] = true;
            }
        }

        Expect(wrong == 0, failures, $"{wrong:N0} tickets returned by Join are duplicates or outside 1..{tickets.Length:N0}");
    }

    private static void Expect(bool condition, List<string> failures, string failure)
    {
        if (!condition)
        {
            failures.Add(failure);
        }
    }

    private static async Task WaitFor(Func<Task<bool>> condition, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new TimeoutException($"Waited 30 s for {what}.");
            }

            await Task.Delay(50);
        }
    }

    private sealed class QuietSwitch
    {
        private volatile bool _on;

        public bool On
        {
            get => _on;
            set => _on = value;
        }
    }

    /// <summary>Stands in for a gateway: receives each cursor move, as the gateway's fan-out does.</summary>
    private sealed class CursorWatcher : IQueueObserver
    {
        private readonly Lock _lock = new();
        private long _lastCursor;
        private int _backwards;

        public long LastCursor => Volatile.Read(ref _lastCursor);

        public int Backwards => Volatile.Read(ref _backwards);

        public Task OnQueueUpdate(QueueUpdate update)
        {
            lock (_lock)
            {
                if (update.ServingCursor < _lastCursor)
                {
                    _backwards++;
                }

                _lastCursor = Math.Max(_lastCursor, update.ServingCursor);
            }

            return Task.CompletedTask;
        }
    }

    /// <summary>
    /// Listens to <see cref="QueueMetrics.TickDuration"/> and keeps the admitting ticks after the first
    /// <c>warmup</c>, until it has <c>count</c> of them. Only one queue exists in the silo, so every tick is its.
    /// </summary>
    private sealed class TickRecorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly List<double> _ticks = [];
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _skip;

        public TickRecorder(int warmup, int count)
        {
            _skip = warmup;
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == QueueMetrics.MeterName && instrument.Name == QueueMetrics.TickDurationName)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, milliseconds, tags, _) =>
            {
                if (!Admitting(tags))
                {
                    return;
                }

                lock (_ticks)
                {
                    if (_skip > 0)
                    {
                        _skip--;
                    }
                    else if (_ticks.Count < count)
                    {
                        _ticks.Add(milliseconds);
                        if (_ticks.Count == count)
                        {
                            _done.TrySetResult();
                        }
                    }
                }
            });
            _listener.Start();
        }

        public Task Done => _done.Task;

        public int Count
        {
            get
            {
                lock (_ticks)
                {
                    return _ticks.Count;
                }
            }
        }

        public double[] Sorted()
        {
            lock (_ticks)
            {
                return [.. _ticks.Order()];
            }
        }

        public void Dispose() => _listener.Dispose();

        private static bool Admitting(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "outcome", Value: "admitted" })
                {
                    return true;
                }
            }

            return false;
        }
    }
}
