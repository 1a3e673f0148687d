using Microsoft.Extensions.Options;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Grains.Queue;

[GenerateSerializer, Alias("tq.QueueShardState")]
public sealed class QueueShardState
{
    [Id(0)] public Dictionary<Guid, QueueEntry> Entries { get; set; } = [];
}

/// <summary>One user's place in one event's line: 16 bytes, kept in the user's shard.</summary>
[GenerateSerializer, Alias("tq.QueueEntry")]
public struct QueueEntry
{
    [Id(0)] public long Number;
    [Id(1)] public int BatchId;
    [Id(2)] public QueueEntryFlags Flags;

    public readonly QueuePlace Place => new((Flags & QueueEntryFlags.PreQueue) != 0, Number);

    public readonly bool Has(QueueEntryFlags flag) => (Flags & flag) != 0;
}

[Flags]
public enum QueueEntryFlags : byte
{
    None = 0,
    PreQueue = 1,
    Claimed = 2,
    Finished = 4,
}

/// <summary>
/// Per-user queue records of one slice of an event's users (key "{eventId}#{shard}"). Joins for
/// different users land on different shards, so the only shared step is the queue grain's counter.
/// </summary>
public sealed class QueueShardGrain : Grain, IQueueShardGrain
{
    private readonly IPersistentState<QueueShardState> _state;
    private readonly QueueOptions _options;
    private bool _dirty;

    public QueueShardGrain(
        [PersistentState("queueShard", StorageNames.Default)] IPersistentState<QueueShardState> state,
        IOptions<QueueOptions> options)
    {
        _state = state;
        _options = options.Value;
    }

    private string EventId
    {
        get
        {
            var key = this.GetPrimaryKeyString();
            return key[..key.LastIndexOf('#')];
        }
    }

    private IEventQueueGrain Queue => GrainFactory.GetGrain<IEventQueueGrain>(EventId);

    private Dictionary<Guid, QueueEntry> Entries => _state.State.Entries;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Records are written in batches: one storage write per interval however many joined.
        this.RegisterGrainTimer(FlushIfDirty, new GrainTimerCreationOptions
        {
            DueTime = _options.ShardFlushInterval,
            Period = _options.ShardFlushInterval,
            Interleave = false,
            KeepAlive = false,
        });
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) =>
        FlushIfDirty(cancellationToken);

    public async Task<QueueStatus> Join(Guid userId)
    {
        if (Entries.TryGetValue(userId, out var entry) && !entry.Has(QueueEntryFlags.Finished))
        {
            var current = await Queue.Describe(entry.Place);
            if (current.Status != QueueStatusKind.Expired)
            {
                return current;
            }
        }

        // New, finished or expired: a fresh place at the back of the line.
        var status = await Queue.Issue();
        Entries[userId] = new QueueEntry
        {
            Number = status.Place.Number,
            Flags = status.Place.PreQueue ? QueueEntryFlags.PreQueue : QueueEntryFlags.None,
        };
        _dirty = true;
        return status;
    }

    public async Task<QueueStatus?> GetStatus(Guid userId)
    {
        if (!Entries.TryGetValue(userId, out var entry))
        {
            return null;
        }

        return AsSeenBy(entry, await Queue.Describe(entry.Place));
    }

    public async Task<QueueStatus?> Claim(Guid userId)
    {
        if (!Entries.TryGetValue(userId, out var entry))
        {
            return null;
        }

        var status = await Queue.Describe(entry.Place);
        // A finished shopper already gave their slot back; counting a later claim would make them a
        // phantom active shopper until their session ran out, holding the line back.
        if (status is { Status: QueueStatusKind.Admitted, BatchId: { } batchId }
            && !entry.Has(QueueEntryFlags.Claimed)
            && !entry.Has(QueueEntryFlags.Finished))
        {
            await Queue.Claim(batchId);
            entry.BatchId = batchId;
            entry.Flags |= QueueEntryFlags.Claimed;
            Entries[userId] = entry;
            _dirty = true;
        }

        return AsSeenBy(entry, status);
    }

    public async Task<bool> Leave(Guid userId)
    {
        if (!Entries.TryGetValue(userId, out var entry))
        {
            return false;
        }

        if (!entry.Has(QueueEntryFlags.Finished))
        {
            await FinishAdmitted(entry, await Queue.Describe(entry.Place));
        }

        Entries.Remove(userId);
        _dirty = true;
        return true;
    }

    public async Task Finish(Guid userId)
    {
        if (!Entries.TryGetValue(userId, out var entry) || entry.Has(QueueEntryFlags.Finished))
        {
            return;
        }

        var status = await Queue.Describe(entry.Place);
        if (status.Status is QueueStatusKind.PreQueue or QueueStatusKind.Waiting)
        {
            // A purchase from an earlier admission completed while the user waits in line again (a hold
            // can outlast the session): that place has no slot to free and must not be given up.
            return;
        }

        await FinishAdmitted(entry, status);
        entry.Flags |= QueueEntryFlags.Finished;
        Entries[userId] = entry;
        _dirty = true;
    }

    /// <summary>
    /// A shopper who finished (bought) has ended their session: their admission no longer lets them
    /// shop, or they would be shopping outside the active-shopper bound. Joining again starts a new place.
    /// </summary>
    private static QueueStatus AsSeenBy(QueueEntry entry, QueueStatus status) =>
        entry.Has(QueueEntryFlags.Finished) && status.Status == QueueStatusKind.Admitted
            ? status with { Status = QueueStatusKind.Expired, BatchId = null }
            : status;

    // Frees the active-shopper slot of an admitted user who is done before their session ran out.
    private async Task FinishAdmitted(QueueEntry entry, QueueStatus status)
    {
        if (status is { Status: QueueStatusKind.Admitted, BatchId: { } batchId })
        {
            await Queue.Finish(batchId, entry.Has(QueueEntryFlags.Claimed));
        }
    }

    private async Task FlushIfDirty(CancellationToken cancellationToken)
    {
        if (_dirty)
        {
            _dirty = false;
            await _state.WriteStateAsync(cancellationToken);
        }
    }
}
