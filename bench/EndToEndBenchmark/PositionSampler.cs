using Orleans;
using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.EndToEndBenchmark;

/// <summary>
/// Reads users' own status while they wait, as a browser polling <c>GET .../queue/me</c> would, but through
/// <see cref="IQueueShardGrain.GetStatus"/>, which does not claim the admission. A position
/// (<c>ticket - servingCursor</c>, 0 once admitted) may only fall: a rise, a cursor that moved back, a ticket
/// that changed or a record that went missing is a violation. Two ways, each its own sequence of reads per
/// user, both starting from the join's answer: a sample read every interval (<see cref="Run"/>), and a sweep
/// through every user in turn at a bounded rate until each is seen admitted (<see cref="Sweep"/>).
/// </summary>
internal sealed class PositionSampler(IGrainFactory grains, string eventId, Guid[] users, int[] sample, Arrivals arrivals)
{
    private readonly List<string> _violations = [];
    private int _violationCount;

    public long Reads { get; private set; }

    public int Admitted { get; private set; }

    public int SampleSize => sample.Length;

    /// <summary>How many reads, of the sample and of the sweep, found something wrong; the first few are described in <see cref="Violations"/>.</summary>
    public int ViolationCount => Volatile.Read(ref _violationCount);

    public IReadOnlyList<string> Violations
    {
        get
        {
            lock (_violations)
            {
                return [.. _violations];
            }
        }
    }

    /// <summary>Reads of the sweep, all users.</summary>
    public long SweepReads => Interlocked.Read(ref _sweepReads);

    private long _sweepReads;

    /// <summary>Per user, the sweep's reads (besides the join's answer), and how many of those found them still waiting.</summary>
    public int[] SweepReadsPerUser { get; } = new int[users.Length];

    public int[] SweepWaitingReadsPerUser { get; } = new int[users.Length];

    /// <summary>Per user, what the sweep saw last: compared with the final read, which must not be behind it.</summary>
    private readonly Observation?[] _swept = new Observation?[users.Length];

    /// <summary>Users the sweep has seen admitted.</summary>
    public int SweptAdmitted => Volatile.Read(ref _sweptAdmitted);

    private int _sweptAdmitted;

    /// <summary>
    /// Reads every user who has joined and is not yet seen admitted, in turn, at most
    /// <paramref name="readsPerSecond"/> a second (64 at a time), round after round, until every user is seen
    /// admitted or it is stopped.
    /// </summary>
    public async Task Sweep(int readsPerSecond, CancellationToken stop)
    {
        var admitted = new bool[users.Length];
        var slice = Math.Max(1, readsPerSecond / 10);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        var next = 0;
        try
        {
            while (SweptAdmitted < users.Length && await timer.WaitForNextTickAsync(stop))
            {
                // The next slice of users due a read, in turn from where the last slice ended.
                var due = new List<int>(slice);
                for (var looked = 0; looked < users.Length && due.Count < slice; looked++, next = (next + 1) % users.Length)
                {
                    if (!admitted[next] && Volatile.Read(ref arrivals.Tickets[next]) > 0)
                    {
                        due.Add(next);
                    }
                }

                await Parallel.ForEachAsync(due, new ParallelOptions { MaxDegreeOfParallelism = 64, CancellationToken = stop }, async (user, _) =>
                {
                    var status = await grains.GetGrain<IQueueShardGrain>(QueueShards.KeyFor(eventId, users[user])).GetStatus(users[user]);
                    var before = _swept[user] ?? (arrivals.Answers[user] is { } answer ? Observation.Of(answer) : null);
                    var now = status is { } read ? Observation.Of(read) : null;
                    Report(Check(user, before, now));
                    _swept[user] = now ?? before;
                    SweepReadsPerUser[user]++;
                    if (now is { Kind: QueueStatusKind.Admitted })
                    {
                        admitted[user] = true;
                        Interlocked.Increment(ref _sweptAdmitted);
                    }
                    else
                    {
                        SweepWaitingReadsPerUser[user]++;
                    }
                });
                Interlocked.Add(ref _sweepReads, due.Count);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Checks a user's final read against the last the sweep saw (or the join's answer): the cursor must not be
    /// behind it. Counted with the other violations.
    /// </summary>
    public void CheckFinal(int user, QueueStatus? final)
    {
        var before = _swept[user] ?? (arrivals.Answers[user] is { } answer ? Observation.Of(answer) : null);
        Report(Check(user, before, final is { } read ? Observation.Of(read) : null));
    }

    private void Report(string? problem)
    {
        if (problem is null)
        {
            return;
        }

        Interlocked.Increment(ref _violationCount);
        lock (_violations)
        {
            if (_violations.Count < 10)
            {
                _violations.Add(problem);
            }
        }
    }

    /// <summary>Reads every sampled user who has joined and is not yet admitted, every <paramref name="interval"/>, until all are admitted or it is stopped.</summary>
    public async Task Run(TimeSpan interval, CancellationToken stop)
    {
        var last = new Observation?[sample.Length];
        var done = new bool[sample.Length];
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (Admitted < sample.Length && await timer.WaitForNextTickAsync(stop))
            {
                var due = Enumerable.Range(0, sample.Length).Where(s => !done[s] && Volatile.Read(ref arrivals.Tickets[sample[s]]) > 0).ToArray();
                var statuses = await Task.WhenAll(due.Select(s => grains.GetGrain<IQueueShardGrain>(QueueShards.KeyFor(eventId, users[sample[s]]))
                    .GetStatus(users[sample[s]])));
                Reads += due.Length;
                for (var k = 0; k < due.Length; k++)
                {
                    var s = due[k];
                    var user = sample[s];
                    // The join's own answer is the first observation of this user's position.
                    last[s] ??= arrivals.Answers[user] is { } answer ? Observation.Of(answer) : null;
                    var now = statuses[k] is { } status ? Observation.Of(status) : null;
                    Report(Check(user, last[s], now));

                    last[s] = now ?? last[s];
                    if (now is { Kind: QueueStatusKind.Admitted })
                    {
                        done[s] = true;
                        Admitted++;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private string? Check(int user, Observation? before, Observation? now)
    {
        var ticket = arrivals.Tickets[user];
        if (now is null)
        {
            return $"user {user} (ticket {ticket}): no place in the queue any more";
        }

        if (now.Kind is not (QueueStatusKind.Waiting or QueueStatusKind.Admitted) || now.Ticket != ticket)
        {
            return $"user {user} (ticket {ticket}): status {now.Kind}, ticket {now.Ticket}";
        }

        if (before is not null && (now.Position > before.Position || now.Cursor < before.Cursor))
        {
            return $"user {user} (ticket {ticket}): position {before.Position} -> {now.Position}, cursor {before.Cursor} -> {now.Cursor}";
        }

        return null;
    }

    private sealed record Observation(QueueStatusKind Kind, long? Ticket, long Position, long Cursor)
    {
        public static Observation Of(QueueStatus status) => new(status.Status, status.TicketNumber,
            status.Status == QueueStatusKind.Admitted ? 0 : status.Position ?? long.MaxValue, status.ServingCursor);
    }
}
