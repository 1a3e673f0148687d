using TicketQueue.Grains.Abstractions.Events;
using TicketQueue.Grains.Queue;

namespace TicketQueue.TickBenchmark;

/// <summary>
/// A queue in the middle of a busy sale, as the tick sees it: <see cref="Waiting"/> people above the cursor,
/// a full shopping session of admission batches behind it (600 with the default 1 s tick and 10 min
/// session), and new people joining as fast as the old ones are admitted, so every tick forgets one batch,
/// admits one and leaves the line as long as it was.
/// </summary>
internal sealed class SteadyQueue
{
    public static readonly TimeSpan TickInterval = TimeSpan.FromSeconds(1);
    public const int AdmittedPerTick = 10;

    public static readonly QueueSettings Settings = new(
        AdmissionsPerMinute: AdmittedPerTick * 60,
        MaxActiveShoppers: 5_000,
        ClaimWindow: TimeSpan.FromMinutes(2),
        ShoppingSession: TimeSpan.FromMinutes(10),
        HoldDuration: TimeSpan.FromMinutes(5));

    /// <summary>Batches of one shopping session: the most the queue grain ever keeps.</summary>
    public static readonly int SessionBatches = (int)(Settings.ShoppingSession / TickInterval);

    private readonly EventQueueState _state;
    private readonly AdmissionPacer _pacer = new(TickInterval);
    private DateTimeOffset _now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private long _lastIssued;

    public SteadyQueue(long waiting)
    {
        Waiting = waiting;
        _state = new EventQueueState
        {
            Settings = Settings,
            SalesOpenAt = _now - Settings.ShoppingSession - TimeSpan.FromMinutes(1),
            Opened = true,
        };

        // The batches of the last session, oldest first; the older ones past their claim window, where
        // only those who showed up and have not bought yet count.
        for (var age = SessionBatches - 1; age >= 0; age--)
        {
            var admittedAt = _now - (age * TickInterval);
            var pastClaimWindow = _now >= admittedAt + Settings.ClaimWindow;
            _state.Batches.Add(new AdmissionBatch
            {
                Id = ++_state.NextBatchId,
                FromExclusive = _state.ServingCursor,
                ToInclusive = _state.ServingCursor + AdmittedPerTick,
                AdmittedAt = admittedAt,
                Claimed = pastClaimWindow ? 6 : 3,
                FinishedClaimed = pastClaimWindow ? 2 : 0,
                FinishedUnclaimed = pastClaimWindow ? 1 : 0,
            });
            _state.ServingCursor += AdmittedPerTick;
        }

        _lastIssued = _state.ServingCursor + waiting;
        _state.IssuedUpTo = _lastIssued;
    }

    public long Waiting { get; }

    public long ServingCursor => _state.ServingCursor;

    public int Batches => _state.Batches.Count;

    public long WaitingNow => _lastIssued - _state.ServingCursor;

    /// <summary>One tick, one interval after the previous one; <see cref="AdmittedPerTick"/> people joined meanwhile.</summary>
    public AdmissionTickResult Tick()
    {
        _now += TickInterval;
        _lastIssued += AdmittedPerTick;
        return _pacer.Tick(_state, Settings, _lastIssued, _now, TickInterval);
    }

    /// <summary>
    /// Runs <paramref name="ticks"/> ticks and says what went wrong, if anything: every tick must admit exactly
    /// <see cref="AdmittedPerTick"/> from the cursor on, forget exactly one batch, and leave the line as long.
    /// </summary>
    public static string? Check(long waiting, int ticks)
    {
        var queue = new SteadyQueue(waiting);
        for (var i = 0; i < ticks; i++)
        {
            var cursor = queue.ServingCursor;
            var result = queue.Tick();
            if (result.Admitted is not { } batch || batch.FromExclusive != cursor || batch.Count != AdmittedPerTick)
            {
                return $"tick {i + 1}: expected {AdmittedPerTick} admitted from {cursor}, got " +
                    (result.Admitted is { } b ? $"({b.FromExclusive}, {b.ToInclusive}]" : "none");
            }

            if (!result.Pruned || queue.Batches != SessionBatches || queue.WaitingNow != waiting)
            {
                return $"tick {i + 1}: pruned {result.Pruned}, {queue.Batches} batches (expected {SessionBatches}), " +
                    $"{queue.WaitingNow} waiting (expected {waiting})";
            }
        }

        return null;
    }
}
