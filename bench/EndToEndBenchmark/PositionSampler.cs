using Orleans;
using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.EndToEndBenchmark;

/// <summary>
/// Reads a sample of users' own status while they wait, as a browser polling <c>GET .../queue/me</c> would, but
/// through <see cref="IQueueShardGrain.GetStatus"/>, which does not claim the admission. A position
/// (<c>ticket - servingCursor</c>, 0 once admitted) may only fall: a rise, a cursor that moved back, a ticket
/// that changed or a record that went missing is a violation.
/// </summary>
internal sealed class PositionSampler(IGrainFactory grains, string eventId, Guid[] users, int[] sample, Arrivals arrivals)
{
    private readonly List<string> _violations = [];

    public long Reads { get; private set; }

    public int Admitted { get; private set; }

    public int SampleSize => sample.Length;

    /// <summary>How many reads found something wrong; the first few are described in <see cref="Violations"/>.</summary>
    public int ViolationCount { get; private set; }

    public IReadOnlyList<string> Violations => _violations;

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
                    if (Check(user, last[s], now) is { } problem)
                    {
                        ViolationCount++;
                        if (_violations.Count < 10)
                        {
                            _violations.Add(problem);
                        }
                    }

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
