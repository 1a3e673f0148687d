using System.Runtime.ExceptionServices;
using Orleans.Concurrency;
using Orleans.Storage;
using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.Grains.Queue;

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
/// <remarks>
/// Records are written by group commit: a change waits for the next save of its shard, and every change
/// made while a save runs goes into the one after it. Nothing is answered before the record it reveals is
/// durable, so a place a user was told about survives a crash; a save costs one round trip however many
/// joined. The grain is reentrant so callers can wait together; calls about the same user still run one
/// at a time.
/// </remarks>
[Reentrant]
public sealed class QueueShardGrain(IQueueEntryStore store, TimeProvider time) : Grain, IQueueShardGrain
{
    private static readonly TimeSpan DeactivationSaveTimeout = TimeSpan.FromSeconds(5);

    private Dictionary<Guid, QueueEntry> _entries = [];
    private long _version;

    // Changes not yet handed to a save, and the save that will make them durable.
    private Dictionary<Guid, QueueEntry?> _unsaved = [];
    private List<DomainEvent> _unsavedEvents = [];
    private TaskCompletionSource? _nextSave;
    private bool _saving;

    // The save each user's latest change waits for, until it is durable.
    private readonly Dictionary<Guid, Task> _undurable = [];
    private readonly Dictionary<Guid, Task> _busy = [];

    // Set when another activation saved this shard: this one is on its way out.
    private ExceptionDispatchInfo? _stale;

    private string Key => this.GetPrimaryKeyString();

    private string EventId => Key[..Key.LastIndexOf('#')];

    // Kept: making a grain reference is not free, and every join that takes a new number calls it.
    private IEventQueueGrain Queue => _queue ??= GrainFactory.GetGrain<IEventQueueGrain>(EventId);

    private IEventQueueGrain? _queue;

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var snapshot = await store.Load(Key, cancellationToken);
        _entries = snapshot.Entries;
        _version = snapshot.Version;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_unsaved.Count == 0 && !_saving)
        {
            return;
        }

        try
        {
            // Changes still unsaved were never acknowledged to anyone, so losing them is safe; saving them
            // spares their users a retry.
            await SaveAll().WaitAsync(DeactivationSaveTimeout, cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or OrleansException or InconsistentStateException)
        {
        }
    }

    public Task<QueueStatus> Join(Guid userId) => OneAtATime(userId, async () =>
    {
        if (_entries.TryGetValue(userId, out var entry) && !entry.Has(QueueEntryFlags.Finished))
        {
            var current = AsSeenBy(entry, await Queue.Describe(entry.Place));
            if (current.Status != QueueStatusKind.Expired)
            {
                await Durable(userId);
                return current;
            }
        }

        // New, finished or expired: a fresh place at the back of the line.
        var status = await Queue.Issue();
        await Record(userId, new QueueEntry
        {
            Number = status.Place.Number,
            Flags = status.Place.PreQueue ? QueueEntryFlags.PreQueue : QueueEntryFlags.None,
        }, new QueueJoined
        {
            EventId = Guid.NewGuid(), OccurredAt = time.GetUtcNow(), TicketedEventId = EventId, UserId = userId,
            Number = status.Place.Number, PreQueue = status.Place.PreQueue,
        });
        return status;
    });

    public Task<QueueStatus?> GetStatus(Guid userId) => OneAtATime(userId, async () =>
    {
        if (!_entries.TryGetValue(userId, out var entry))
        {
            // "Not in the queue" from a leave not yet saved would be undone by a crash: answered once saved.
            await Durable(userId);
            return null;
        }

        await Durable(userId);
        return (QueueStatus?)AsSeenBy(entry, await Queue.Describe(entry.Place));
    });

    public Task<QueueStatus?> Claim(Guid userId) => OneAtATime(userId, async () =>
    {
        if (!_entries.TryGetValue(userId, out var entry))
        {
            await Durable(userId);
            return null;
        }

        var status = AsSeenBy(entry, await Queue.Describe(entry.Place));
        // A finished shopper already gave their slot back; counting a later claim would make them a
        // phantom active shopper until their session ran out, holding the line back.
        if (status is { Status: QueueStatusKind.Admitted, BatchId: { } batchId }
            && !entry.Has(QueueEntryFlags.Claimed)
            && !entry.Has(QueueEntryFlags.Finished))
        {
            if (!await Queue.ClaimInWindow(entry.Place))
            {
                // The queue judged it late on its own clock when it came to count it (the window may have
                // closed since it described the place): the slot went to the next in line.
                await Durable(userId);
                return (QueueStatus?)(status with { Status = QueueStatusKind.Expired, BatchId = null });
            }

            entry.BatchId = batchId;
            entry.Flags |= QueueEntryFlags.Claimed;
            await Record(userId, entry, new QueueAdmitted
            {
                EventId = Guid.NewGuid(), OccurredAt = time.GetUtcNow(), TicketedEventId = EventId, UserId = userId,
                TicketNumber = status.TicketNumber ?? entry.Number, BatchId = batchId,
            });
        }
        else
        {
            await Durable(userId);
        }

        return (QueueStatus?)status;
    });

    public Task<bool> Leave(Guid userId) => OneAtATime(userId, async () =>
    {
        if (!_entries.TryGetValue(userId, out var entry))
        {
            // A leave whose save failed is answered once it is saved, as the leave it is.
            var leaving = _undurable.ContainsKey(userId);
            await Durable(userId);
            return leaving;
        }

        if (!entry.Has(QueueEntryFlags.Finished))
        {
            await FinishAdmitted(entry, await Queue.Describe(entry.Place));
        }

        await Record(userId, null, new QueueLeft
        {
            EventId = Guid.NewGuid(), OccurredAt = time.GetUtcNow(), TicketedEventId = EventId, UserId = userId, Number = entry.Number,
        });
        return true;
    });

    public Task Finish(Guid userId) => FinishAdmission(userId, purchaseAdmittedAt: null);

    public Task FinishPurchase(Guid userId, DateTimeOffset admittedAt) => FinishAdmission(userId, admittedAt);

    private Task FinishAdmission(Guid userId, DateTimeOffset? purchaseAdmittedAt) => OneAtATime(userId, async () =>
    {
        if (!_entries.TryGetValue(userId, out var entry) || entry.Has(QueueEntryFlags.Finished))
        {
            // A retry must not confirm a finish that a crash would still lose.
            await Durable(userId);
            return true;
        }

        var status = await Queue.Describe(entry.Place);
        if (status.Status is QueueStatusKind.PreQueue or QueueStatusKind.Waiting
            || (purchaseAdmittedAt is { } purchaseAdmission && status.AdmittedAt > purchaseAdmission))
        {
            // A purchase from an earlier admission completed while the user waits in line again, or shops
            // in a later admission (a hold can outlast the session): that place is not the purchase's to end.
            await Durable(userId);
            return true;
        }

        await FinishAdmitted(entry, status);
        entry.Flags |= QueueEntryFlags.Finished;
        await Record(userId, entry);
        return true;
    });

    /// <summary>
    /// A shopper who finished (bought) has ended their session: their admission no longer lets them
    /// shop, or they would be shopping outside the active-shopper bound. Joining again starts a new place.
    /// </summary>
    /// <remarks>
    /// A no-show's slot went to the next in line when the claim window closed: one who shows up later has
    /// lost the turn, or they would be a shopper above the limit. Whether they showed up is this shard's
    /// durable flag, not the queue's count of claims, which a crash of the queue grain can set back.
    /// Whether the window has closed is the queue's to say, on the clock it releases the slot by: this
    /// silo's clock, if behind, would let in a late no-show whose slot already went to the next in line.
    /// (A queue grain of the previous version does not say; then this silo's clock judges its ClaimBy.)
    /// </remarks>
    private QueueStatus AsSeenBy(QueueEntry entry, QueueStatus status) =>
        status.Status == QueueStatusKind.Admitted
        && (entry.Has(QueueEntryFlags.Finished)
            || (!entry.Has(QueueEntryFlags.Claimed)
                && (status.ClaimWindowClosed ?? (status.ClaimBy is { } claimBy && time.GetUtcNow() >= claimBy))))
            ? status with { Status = QueueStatusKind.Expired, BatchId = null }
            : status;

    // Frees the active-shopper slot of an admitted user who is done before their session ran out.
    private async Task FinishAdmitted(QueueEntry entry, QueueStatus status)
    {
        if (status.Status == QueueStatusKind.Admitted)
        {
            await Queue.Finish(entry.Place);
        }
    }

    // Calls about one user run one at a time (a join must not race another join of the same user);
    // calls about different users interleave, which is what lets them share a save.
    private async Task<T> OneAtATime<T>(Guid userId, Func<Task<T>> work)
    {
        // Calls that reach a stale activation before it is gone must not answer from its emptied picture
        // ("not in the queue", a fresh number): they fail, and their retries reach the new activation.
        _stale?.Throw();
        while (_busy.TryGetValue(userId, out var running))
        {
            await running.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ContinueOnCapturedContext);
        }

        _stale?.Throw();

        var done = new TaskCompletionSource();
        _busy[userId] = done.Task;
        try
        {
            return await work();
        }
        finally
        {
            _busy.Remove(userId);
            done.SetResult();
        }
    }

    /// <summary>
    /// Applies a change now and waits until it, and the event it caused, are durable (<c>null</c>: the
    /// user left).
    /// </summary>
    private Task Record(Guid userId, QueueEntry? entry, DomainEvent? happened = null)
    {
        if (happened is not null)
        {
            _unsavedEvents.Add(happened);
        }

        if (entry is { } kept)
        {
            _entries[userId] = kept;
        }
        else
        {
            _entries.Remove(userId);
        }

        _unsaved[userId] = entry;
        var save = NextSave();
        _undurable[userId] = save;
        StartSaving();
        return save;
    }

    /// <summary>Waits until the user's record, as this activation holds it, is durable.</summary>
    private Task Durable(Guid userId)
    {
        // A call that read the user's record before this activation went stale (it was waiting on the
        // queue grain meanwhile) must not answer from it: the record may never have been saved, and the
        // emptied activation no longer knows it is waiting for a save.
        _stale?.Throw();
        if (!_undurable.TryGetValue(userId, out var save))
        {
            return Task.CompletedTask;
        }

        // A save that failed left the change unsaved: this call tries again.
        StartSaving();
        return save;
    }

    private Task SaveAll()
    {
        var save = _unsaved.Count > 0 ? NextSave() : Task.CompletedTask;
        StartSaving();
        return save;
    }

    private Task NextSave() =>
        (_nextSave ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    private void StartSaving()
    {
        if (!_saving && _unsaved.Count > 0)
        {
            _ = SaveLoop();
        }
    }

    // Runs on the grain's scheduler like any grain code; one save at a time, each taking every change
    // made while the previous one ran.
    private async Task SaveLoop()
    {
        _saving = true;
        try
        {
            while (_unsaved.Count > 0)
            {
                var changes = _unsaved;
                var events = _unsavedEvents;
                var save = _nextSave!;
                _unsaved = [];
                _unsavedEvents = [];
                _nextSave = null;
                try
                {
                    _version = await store.Save(Key, _version, changes.Select(c => new QueueEntryChange(c.Key, c.Value)).ToList(), events, CancellationToken.None);
                }
                catch (Exception e)
                {
                    Failed(changes, events, save, e);
                    return;
                }

                foreach (var userId in changes.Keys)
                {
                    if (_undurable.TryGetValue(userId, out var waiting) && waiting == save.Task)
                    {
                        _undurable.Remove(userId);
                    }
                }

                save.SetResult();
            }
        }
        finally
        {
            _saving = false;
        }
    }

    private void Failed(Dictionary<Guid, QueueEntry?> changes, List<DomainEvent> events, TaskCompletionSource save, Exception error)
    {
        if (error is InconsistentStateException)
        {
            // Another activation saved this shard: this one's picture is stale, so it must go and be
            // loaded afresh. Everything waiting here fails; their callers retry against the new activation.
            _nextSave?.TrySetException(error);
            _nextSave = null;
            _unsaved.Clear();
            _unsavedEvents.Clear();
            _undurable.Clear();
            _entries.Clear();
            _stale = ExceptionDispatchInfo.Capture(error);
            DeactivateOnIdle();
        }
        else
        {
            // Storage is unreachable. The changes stay in memory, unsaved: a later save retries them
            // (a newer change of the same user wins), and until then nobody is told about them. Their
            // events go first, in the order they happened. Callers waiting for the next save hear of the
            // failure too: no save is running to answer them, and their retries (Durable) start one.
            _unsavedEvents.InsertRange(0, events);
            foreach (var (userId, entry) in changes)
            {
                _unsaved.TryAdd(userId, entry);
            }

            _nextSave?.TrySetException(error);
            _nextSave = null;
            foreach (var userId in _unsaved.Keys)
            {
                _undurable[userId] = NextSave();
            }
        }

        save.SetException(error);
    }
}
