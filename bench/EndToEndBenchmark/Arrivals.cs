using System.Diagnostics;
using Orleans;
using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.EndToEndBenchmark;

/// <summary>
/// The crowd: user i arrives i x window / N after the start and joins at once, whether or not earlier joins
/// have been answered (an open arrival process, as browsers are; nobody waits for somebody else's answer).
/// A join goes where the gateway sends it, the user's queue shard.
/// </summary>
internal sealed class Arrivals(IGrainFactory grains, string eventId, Guid[] users, TimeSpan window)
{
    private int _answered;
    private int _failed;
    private int _inFlight;
    private long _maxInFlight;
    private long _maxLaunchLag;

    /// <summary>The ticket each user's join returned (0 until it is answered, -1 if it failed).</summary>
    public long[] Tickets { get; } = new long[users.Length];

    /// <summary>What each join answered: the first observation of the user's position.</summary>
    public QueueStatus?[] Answers { get; } = new QueueStatus?[users.Length];

    /// <summary>From the moment each user was due to arrive to their answer, in <see cref="Stopwatch"/> ticks.</summary>
    public long[] LatencyTicks { get; } = new long[users.Length];

    /// <summary>When each join was answered, in <see cref="Stopwatch"/> ticks since <see cref="StartedAt"/>.</summary>
    public long[] AnsweredAfter { get; } = new long[users.Length];

    public long StartedAt { get; private set; }

    public int Answered => Volatile.Read(ref _answered);

    public int Failed => Volatile.Read(ref _failed);

    public long MaxInFlight => Interlocked.Read(ref _maxInFlight);

    /// <summary>How late the driver started the latest-started join (a busy machine delays the driver too).</summary>
    public TimeSpan MaxLaunchLag => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _maxLaunchLag));

    public Exception? FirstFailure { get; private set; }

    public async Task Run()
    {
        var joins = new Task[users.Length];
        var windowTicks = window.TotalSeconds * Stopwatch.Frequency;
        StartedAt = Stopwatch.GetTimestamp();
        var launched = 0;
        while (launched < users.Length)
        {
            var elapsed = Stopwatch.GetTimestamp() - StartedAt;
            var due = (int)Math.Min(users.Length, Math.Floor(elapsed / windowTicks * users.Length) + 1);
            for (; launched < due; launched++)
            {
                var dueAt = StartedAt + (long)(launched * windowTicks / users.Length);
                joins[launched] = Join(launched, dueAt);
            }

            await Task.Delay(1);
        }

        await Task.WhenAll(joins);
    }

    private async Task Join(int i, long dueAt)
    {
        RaiseTo(ref _maxLaunchLag, Stopwatch.GetTimestamp() - dueAt);
        RaiseTo(ref _maxInFlight, Interlocked.Increment(ref _inFlight));

        try
        {
            var status = await QueueShards.For(grains, eventId, users[i]).Join(users[i]);
            var now = Stopwatch.GetTimestamp();
            Answers[i] = status;
            LatencyTicks[i] = now - dueAt;
            AnsweredAfter[i] = now - StartedAt;
            Volatile.Write(ref Tickets[i], status.Place.PreQueue ? -1 : status.Place.Number);
            Interlocked.Increment(ref _answered);
        }
        catch (Exception e)
        {
            Volatile.Write(ref Tickets[i], -1);
            FirstFailure ??= e;
            Interlocked.Increment(ref _failed);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private static void RaiseTo(ref long maximum, long value)
    {
        for (var seen = Interlocked.Read(ref maximum); value > seen; seen = Interlocked.Read(ref maximum))
        {
            if (Interlocked.CompareExchange(ref maximum, value, seen) == seen)
            {
                return;
            }
        }
    }
}
