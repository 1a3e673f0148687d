using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Utilities;
using TicketQueue.Grains.Abstractions.Events;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Grains.Queue;

/// <summary>
/// One event's waiting room on counters (see docs/architecture.md). A join costs one increment; a tick
/// costs one cursor move and one message per gateway, however many people wait.
/// </summary>
public sealed class EventQueueGrain : Grain, IEventQueueGrain, IRemindable
{
    private const string KeepAliveReminder = "queue-keep-alive";

    private readonly IPersistentState<EventQueueState> _state;
    private readonly TimeProvider _time;
    private readonly QueueOptions _options;
    private readonly AdmissionPacer _pacer;
    private readonly ObserverManager<IQueueObserver> _observers;
    private long _lastIssued;

    // Whether the active-shopper cap held the line back at the last tick, and how fast it then moves.
    private bool _shoppersFull;
    private double _cappedPace;
    private long _lastPreIssued;
    private DateTimeOffset _lastTick;
    private bool _dirty;

    // A write failed: this activation's state is not what is stored, and it is on its way out.
    private bool _unsaved;
    private bool _started;
    private bool _reminderRegistered;
    private IGrainTimer? _ticker;
    private bool _closeAnnounced;
    private readonly ILogger<EventQueueGrain> _logger;

    public EventQueueGrain(
        [PersistentState("queue", StorageNames.Events)] IPersistentState<EventQueueState> state,
        TimeProvider time,
        IOptions<QueueOptions> options,
        ILogger<EventQueueGrain> logger)
    {
        _state = state;
        _time = time;
        _options = options.Value;
        _pacer = new AdmissionPacer(_options.TickInterval);
        _observers = new ObserverManager<IQueueObserver>(TimeSpan.FromMinutes(2), logger);
        _logger = logger;
    }

    private string EventId => this.GetPrimaryKeyString();

    private EventQueueState State => _state.State;

    private QueueSettings Settings =>
        State.Settings ?? throw DomainException.NotFound("event-not-found", $"There is no event '{EventId}'.");

    public override Task OnActivateAsync(CancellationToken cancellationToken) => TryStart(cancellationToken);

    /// <summary>
    /// Loads the event's queue settings the first time and starts admitting. Until the event exists,
    /// calls fail with "event-not-found" and each one looks in the catalog again, so an event created
    /// after somebody asked about its queue still gets a working queue. Nothing is stored meanwhile.
    /// </summary>
    private async Task<bool> TryStart(CancellationToken cancellationToken = default)
    {
        if (_started)
        {
            return true;
        }

        if (State.Settings is null || State.SalesCloseAt is null)
        {
            var definition = await GrainFactory.GetGrain<IEventCatalogGrain>(EventCatalog.Key).Get(EventId);
            if (definition is null)
            {
                return false;
            }

            var first = State.Settings is null;
            State.Settings ??= definition.Queue;
            State.SalesOpenAt = definition.SalesOpenAt;
            State.SalesCloseAt = definition.StartsAt;
            try
            {
                // A write whose answer was lost may have landed: the activation goes, or its stale version
                // stamp would have every later start refused.
                await this.WriteOrLeave(_state);
            }
            catch
            {
                // Not started: the next call reads the catalog and tries again.
                if (first)
                {
                    State.Settings = null;
                }

                State.SalesCloseAt = null;
                throw;
            }
        }

        // Numbers above the last reserved block were never handed out; numbers inside it may have
        // been, so a new activation starts above the block: gaps, never duplicates.
        _lastIssued = State.IssuedUpTo;
        _lastPreIssued = State.PreIssuedUpTo;
        _lastTick = _time.GetUtcNow();
        _started = true;
        if (Retired(_lastTick))
        {
            // Over: answering questions about it needs no ticking.
            return true;
        }

        _ticker = this.RegisterGrainTimer(Tick, new GrainTimerCreationOptions
        {
            DueTime = _options.TickInterval,
            Period = _options.TickInterval,
            Interleave = false,
            KeepAlive = true,
        });
        await EnsureReminder();
        return true;
    }

    /// <summary>
    /// Sales closed when the event started, and every shopping session since has ended: nobody can join
    /// or be admitted any more, so the queue stops ticking and lets its grain be collected (else every
    /// event ever sold would tick once a second for good).
    /// </summary>
    private bool Retired(DateTimeOffset now) => State.SalesCloseAt is { } close && now >= close + Settings.ShoppingSession;

    private async Task Retire()
    {
        _ticker?.Dispose();
        _ticker = null;
        try
        {
            if (await this.GetReminder(KeepAliveReminder) is { } reminder)
            {
                await this.UnregisterReminder(reminder);
            }

            _reminderRegistered = false;
        }
        catch (Exception e) when (e is not DomainException)
        {
            _logger.LogWarning(e, "The keep-alive reminder of finished queue {EventId} could not be removed; the next wake-up tries again", EventId);
        }

        await FlushIfDirty();
        _logger.LogInformation("Queue {EventId} retired: sales closed at {ClosedAt} and every shopping session has ended", EventId, State.SalesCloseAt);
    }

    /// <summary>
    /// A reminder wakes the queue after a silo failure, so admission resumes even if nobody calls. The
    /// reminder table may be out of reach (Redis restarting): the queue works without it meanwhile and
    /// the next tick tries again.
    /// </summary>
    private async Task EnsureReminder()
    {
        if (_reminderRegistered)
        {
            return;
        }

        try
        {
            await this.RegisterOrUpdateReminder(KeepAliveReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
            _reminderRegistered = true;
        }
        catch (Exception e) when (e is not DomainException)
        {
            _logger.LogWarning(e, "The keep-alive reminder of queue {EventId} could not be registered; retrying on the next tick", EventId);
        }
    }

    private async Task RequireEvent()
    {
        if (!await TryStart())
        {
            throw DomainException.NotFound("event-not-found", $"There is no event '{EventId}'.");
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Only a started activation knows which numbers it handed out: one whose start failed (its write
        // refused) would give back numbers as unused from a count of zero, and the next one hand them out again.
        if (!_started || State.Settings is null || _unsaved)
        {
            return;
        }

        // A clean shutdown gives back the unused part of the reserved blocks.
        if (State.Opened)
        {
            State.IssuedUpTo = Math.Max(_lastIssued, State.PreQueueSize);
        }
        else
        {
            State.PreIssuedUpTo = _lastPreIssued;
        }

        try
        {
            // Best effort, briefly: if storage is already gone (the silo is stopping) the only cost of
            // not writing is a gap in the numbers, so shutdown must not wait on it.
            await _state.WriteStateAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or OrleansException)
        {
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        // A reminder left from before the queue retired (its removal failed, or this is an older silo's).
        if (_started && _ticker is null && State.Settings is not null && Retired(_time.GetUtcNow()))
        {
            await Retire();
        }
    }

    public async Task<QueueStatus> Issue()
    {
        await RequireEvent();
        var now = _time.GetUtcNow();
        if (State.SalesCloseAt is { } close && now >= close)
        {
            throw DomainException.Conflict("sales-closed", $"Sales for '{EventId}' closed when the event started.");
        }

        await OpenIfDue(now);
        if (!State.Opened)
        {
            _lastPreIssued++;
            if (_lastPreIssued > State.PreIssuedUpTo)
            {
                State.PreIssuedUpTo = _lastPreIssued - 1 + _options.TicketBlockSize;
                await WriteNow();
            }

            return Describe(new QueuePlace(PreQueue: true, _lastPreIssued), now);
        }

        _lastIssued++;
        if (_lastIssued > State.IssuedUpTo)
        {
            State.IssuedUpTo = _lastIssued - 1 + _options.TicketBlockSize;
            await WriteNow();
        }

        return Describe(new QueuePlace(PreQueue: false, _lastIssued), now);
    }

    public async Task<QueueStatus> Describe(QueuePlace place)
    {
        await RequireEvent();
        var now = _time.GetUtcNow();
        await OpenIfDue(now);
        return Describe(place, now) with { SalesClosed = SalesClosedAt(now) };
    }

    private bool SalesClosedAt(DateTimeOffset now) => State.SalesCloseAt <= now;

    // A shard tells a claim or a finish before the user's flag is durable, so after a crash it may tell it
    // again: the batch remembers who it counted, and a repeat changes nothing.
    public Task Claim(QueuePlace place)
    {
        if (AdmittedTicket(place) is { } ticket && FindBatchOf(ticket) is { } batch && batch.Claim(ticket))
        {
            _dirty = true;
        }

        return Task.CompletedTask;
    }

    public Task<bool> ClaimInWindow(QueuePlace place)
    {
        var now = _time.GetUtcNow();
        if (AdmittedTicket(place) is not { } ticket || FindBatchOf(ticket) is not { } batch || batch.SessionOver(now, Settings))
        {
            return Task.FromResult(false);
        }

        if (batch.IsClaimed(ticket))
        {
            return Task.FromResult(true);
        }

        if (batch.ClaimWindowClosed(now, Settings) || !batch.Claim(ticket))
        {
            // Too late (the slot stopped being theirs when the window closed), or finished already.
            return Task.FromResult(false);
        }

        _dirty = true;
        return Task.FromResult(true);
    }

    public Task Finish(QueuePlace place)
    {
        if (AdmittedTicket(place) is { } ticket && FindBatchOf(ticket) is { } batch && batch.Finish(ticket))
        {
            _dirty = true;
        }

        return Task.CompletedTask;
    }

    public Task ClaimInBatch(int batchId)
    {
        if (State.Batches.Find(b => b.Id == batchId) is { } batch)
        {
            batch.Claimed++;
            _dirty = true;
        }

        return Task.CompletedTask;
    }

    public Task FinishInBatch(int batchId, bool claimed)
    {
        if (State.Batches.Find(b => b.Id == batchId) is { } batch)
        {
            if (claimed)
            {
                batch.FinishedClaimed++;
            }
            else
            {
                batch.FinishedUnclaimed++;
            }

            _dirty = true;
        }

        return Task.CompletedTask;
    }

    // The ticket of a place the cursor has passed, or null (not admitted, or not a place of this queue).
    private long? AdmittedTicket(QueuePlace place)
    {
        long? ticket = place.PreQueue
            ? State.Opened && place.Number >= 1 && place.Number <= State.PreQueueSize
                ? PreQueueShuffle.TicketFor(place.Number, State.PreQueueSize, State.ShuffleSeed)
                : null
            : place.Number;
        return ticket is >= 1 && ticket <= State.ServingCursor ? ticket : null;
    }

    public async Task<QueueStats> GetStats()
    {
        await RequireEvent();
        return Stats(_time.GetUtcNow());
    }

    public async Task<QueueStats> UpdateSettings(QueueSettingsUpdate update)
    {
        await RequireEvent();
        State.Settings = Settings with
        {
            AdmissionsPerMinute = update.AdmissionsPerMinute ?? Settings.AdmissionsPerMinute,
            MaxActiveShoppers = update.MaxActiveShoppers ?? Settings.MaxActiveShoppers,
            Paused = update.Paused ?? Settings.Paused,
        };
        await WriteNow();
        Publish(Latest(State.ServingCursor, null));
        return Stats(_time.GetUtcNow());
    }

    public async Task<QueueUpdate> GetLatest()
    {
        await RequireEvent();
        return Latest(State.ServingCursor, null);
    }

    public Task Subscribe(IQueueObserver observer)
    {
        _observers.Subscribe(observer, observer);
        return Task.CompletedTask;
    }

    public Task Unsubscribe(IQueueObserver observer)
    {
        _observers.Unsubscribe(observer);
        return Task.CompletedTask;
    }

    private async Task Tick(CancellationToken cancellationToken)
    {
        if (State.Settings is null)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var now = _time.GetUtcNow();
        if (Retired(now))
        {
            await Retire();
            return;
        }

        if (SalesClosedAt(now) && !_closeAnnounced)
        {
            // The line stops at the start: every waiting page hears it, once per activation.
            _closeAnnounced = true;
            Publish(Latest(State.ServingCursor, null));
        }

        await EnsureReminder();
        var elapsed = now - _lastTick;
        _lastTick = now;
        await OpenIfDue(now);

        var tick = _pacer.Tick(State, Settings, _lastIssued, now, elapsed);
        _dirty |= tick.Pruned;
        _shoppersFull = tick.ShoppersFull;
        if (_shoppersFull)
        {
            _cappedPace = AdmissionPacer.CappedPacePerMinute(State.Batches, Settings, now);
        }
        if (tick.Admitted is not { } batch)
        {
            await FlushIfDirty();
            QueueMetrics.TickDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, QueueMetrics.Idle);
            return;
        }

        // The cursor is durable before any gateway tells a user they are in.
        await WriteNow();
        Publish(Latest(batch.FromExclusive, now));
        QueueMetrics.TickDuration.Record(Stopwatch.GetElapsedTime(started).TotalMilliseconds, QueueMetrics.Admitting);
    }

    private async Task OpenIfDue(DateTimeOffset now)
    {
        if (State.Opened || now < State.SalesOpenAt)
        {
            return;
        }

        // Everyone in the pre-queue gets a ticket in 1..size in an order nobody could game:
        // a permutation keyed by a seed drawn now.
        State.Opened = true;
        State.PreQueueSize = _lastPreIssued;
        State.ShuffleSeed = BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
        State.IssuedUpTo = Math.Max(State.IssuedUpTo, State.PreQueueSize);
        _lastIssued = Math.Max(_lastIssued, State.PreQueueSize);
        await WriteNow();
        Publish(Latest(State.ServingCursor, null));
    }

    private QueueStatus Describe(QueuePlace place, DateTimeOffset now)
    {
        long ticket;
        if (place.PreQueue)
        {
            if (place.Number < 1 || place.Number > (State.Opened ? State.PreQueueSize : _lastPreIssued))
            {
                throw DomainException.Invalid("unknown-place", "This pre-queue place was never issued.");
            }

            if (!State.Opened)
            {
                return new QueueStatus(EventId, place, QueueStatusKind.PreQueue, null, null, null,
                    State.ServingCursor, null, null, null, State.SalesOpenAt, Settings.Paused);
            }

            ticket = PreQueueShuffle.TicketFor(place.Number, State.PreQueueSize, State.ShuffleSeed);
        }
        else
        {
            if (place.Number < 1 || place.Number > _lastIssued)
            {
                throw DomainException.Invalid("unknown-place", "This ticket number was never issued.");
            }

            ticket = place.Number;
        }

        if (ticket > State.ServingCursor)
        {
            var position = ticket - State.ServingCursor;
            long? eta = Settings.Paused || PacePerMinute <= 0
                ? null
                : (long)Math.Ceiling(position * 60.0 / PacePerMinute);
            return new QueueStatus(EventId, place, QueueStatusKind.Waiting, ticket, position, eta,
                State.ServingCursor, null, null, null, State.SalesOpenAt, Settings.Paused);
        }

        var batch = FindBatchOf(ticket);
        if (batch is null || batch.SessionOver(now, Settings))
        {
            return new QueueStatus(EventId, place, QueueStatusKind.Expired, ticket, 0, 0,
                State.ServingCursor, null, batch?.AdmittedAt, batch?.AdmittedAt + Settings.ShoppingSession,
                State.SalesOpenAt, Settings.Paused);
        }

        return new QueueStatus(EventId, place, QueueStatusKind.Admitted, ticket, 0, 0,
            State.ServingCursor, batch.Id, batch.AdmittedAt, batch.AdmittedAt + Settings.ShoppingSession,
            State.SalesOpenAt, Settings.Paused, ClaimBy: batch.AdmittedAt + Settings.ClaimWindow,
            ClaimWindowClosed: batch.ClaimWindowClosed(now, Settings));
    }

    private AdmissionBatch? FindBatchOf(long ticket)
    {
        var batches = State.Batches;
        var lo = 0;
        var hi = batches.Count - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) / 2;
            var batch = batches[mid];
            if (ticket <= batch.FromExclusive)
            {
                hi = mid - 1;
            }
            else if (ticket > batch.ToInclusive)
            {
                lo = mid + 1;
            }
            else
            {
                return batch;
            }
        }

        return null;
    }

    private long ActiveShoppers(DateTimeOffset now) => AdmissionPacer.ActiveShoppers(State.Batches, Settings, now);

    private QueueStats Stats(DateTimeOffset now) => new(
        Waiting: State.Opened ? _lastIssued - State.ServingCursor : _lastPreIssued,
        Admitted: State.ServingCursor,
        ActiveShoppers: ActiveShoppers(now),
        Issued: State.Opened ? _lastIssued : 0,
        ServingCursor: State.ServingCursor,
        PreQueued: State.Opened ? State.PreQueueSize : _lastPreIssued,
        Opened: State.Opened,
        Settings: Settings);

    private QueueUpdate Latest(long admittedFromExclusive, DateTimeOffset? admittedAt) => new(
        EventId,
        State.ServingCursor,
        admittedFromExclusive,
        _lastIssued,
        admittedAt,
        admittedAt + Settings.ShoppingSession,
        State.Opened,
        Settings.Paused,
        Settings.AdmissionsPerMinute,
        State.Opened ? new PreQueueDraw(State.PreQueueSize, State.ShuffleSeed) : null,
        PacePerMinute,
        SalesClosedAt(_time.GetUtcNow()));

    /// <summary>
    /// How fast the line moves, for wait estimates: the configured rate, or, while every shopping slot is
    /// taken and people wait, the pace at which slots free up (<see cref="AdmissionPacer.CappedPacePerMinute"/>).
    /// </summary>
    private double PacePerMinute => _shoppersFull ? Math.Min(_cappedPace, Settings.AdmissionsPerMinute) : Settings.AdmissionsPerMinute;

    private void Publish(QueueUpdate update) => _observers.Notify(o => o.OnQueueUpdate(update));

    /// <summary>
    /// Writes the state. If the write fails, what this activation holds (a reserved block, a moved
    /// cursor, an opening's seed) was never stored, and must not be served: the activation goes, unsaved
    /// changes and all, and the next call loads what was stored. Numbers above the stored block were
    /// never handed out (the caller that needed them was told of the failure), so none is handed twice.
    /// </summary>
    private async Task WriteNow()
    {
        try
        {
            await this.WriteOrLeave(_state);
        }
        catch
        {
            _unsaved = true;
            throw;
        }

        _dirty = false;
    }

    private async Task FlushIfDirty()
    {
        if (_dirty)
        {
            await WriteNow();
        }
    }
}
