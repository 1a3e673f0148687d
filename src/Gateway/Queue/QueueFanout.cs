using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Queue;

namespace TicketQueue.Gateway.Queue;

/// <summary>
/// This gateway's side of the live queue. It observes each followed event's queue grain (one grain
/// observer per gateway, not per browser), sends one group message per cursor move, and sends personal
/// "admitted" messages only to the followers the move just admitted, found by a range lookup over the
/// followers sorted by ticket number. Cost per tick: O(log followers + newly admitted).
/// </summary>
/// <remarks>
/// With several gateways every one of them observes the queue, so each sends the cursor only to its own
/// followers, through a group of its own; over the Redis backplane a shared group would reach each browser
/// once per gateway. Personal messages go to the user, not the connection: through the backplane they
/// reach that user's browsers on every gateway, whichever gateway's observer fired.
/// </remarks>
public sealed class QueueFanout(IGrainFactory grains, IHubContext<QueueHub, IQueueClient> hub, QueueTokens tokens, ILogger<QueueFanout> logger)
    : IQueueObserver, IHostedService, IDisposable
{
    private static readonly TimeSpan ResubscribeEvery = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, EventFollowers> _events = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string EventId, long Key)> _connections = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stopping = new();

    // Updates are delivered one at a time, in the order the queue grains sent them: a browser must
    // never see the cursor move backwards.
    // An update the gateway fetched itself (Broadcast false) only catches up on personal messages.
    private readonly Channel<(QueueUpdate Update, bool Broadcast)> _updates =
        Channel.CreateUnbounded<(QueueUpdate, bool)>(new UnboundedChannelOptions { SingleReader = true });
    private Task? _deliveryLoop;
    private readonly Lock _referenceLock = new();
    private IQueueObserver? _reference;
    private Task? _resubscribeLoop;

    private readonly string _instance = Guid.NewGuid().ToString("N");

    /// <summary>The SignalR group of this gateway's followers of an event.</summary>
    public string GroupName(string eventId) => $"event:{eventId}:{_instance}";

    public async Task Follow(string eventId, string connectionId, Guid userId, QueueStatus status)
    {
        Unfollow(connectionId);
        var followers = _events.GetOrAdd(eventId, _ => new EventFollowers());
        // Only those still waiting need a personal message later; pre-queue places wait under negative keys.
        if (status.Status is QueueStatusKind.Waiting or QueueStatusKind.PreQueue)
        {
            var key = status.TicketNumber ?? -status.Place.Number;
            lock (followers)
            {
                followers.Add(key, new Follower(connectionId, userId, status.Place));
            }

            _connections[connectionId] = (eventId, key);
        }
        // One subscription per event, which every follower waits on: if it fails, each of them hears so
        // (and falls back to polling) instead of a page that shows "live" while nothing is subscribed.
        await followers.Subscription(() => Subscribe(eventId));
    }

    /// <summary>How many Follow calls (and renewals) were handed the event's current subscription: for tests.</summary>
    internal int SubscriptionCallers(string eventId) => _events.TryGetValue(eventId, out var followers) ? followers.Callers : 0;

    public void Unfollow(string connectionId)
    {
        if (_connections.TryRemove(connectionId, out var entry) && _events.TryGetValue(entry.EventId, out var followers))
        {
            lock (followers)
            {
                followers.Remove(entry.Key, connectionId);
            }
        }
    }

    public void OnQueueUpdate(QueueUpdate update) => _updates.Writer.TryWrite((update, true));

    Task IQueueObserver.OnQueueUpdate(QueueUpdate update)
    {
        OnQueueUpdate(update);
        return Task.CompletedTask;
    }

    private async Task DeliveryLoop()
    {
        await foreach (var (update, broadcast) in _updates.Reader.ReadAllAsync())
        {
            await Deliver(update, broadcast);
        }
    }

    private async Task Deliver(QueueUpdate update, bool broadcast)
    {
        try
        {
            if (broadcast)
            {
                await hub.Clients.Group(GroupName(update.EventId)).Cursor(new CursorMessage(
                    update.EventId, update.ServingCursor, update.LastIssued, update.Opened, update.Paused, update.AdmissionsPerMinute, update.PacePerMinute,
                    update.SalesClosed));
            }

            if (!_events.TryGetValue(update.EventId, out var followers))
            {
                return;
            }

            List<(Follower Follower, long Ticket)> assigned = [];
            List<(Follower Follower, long Ticket)> admitted;
            lock (followers)
            {
                if (update.Draw is { } draw && followers.HasPreQueue)
                {
                    foreach (var (place, follower) in followers.TakePreQueue())
                    {
                        var ticket = PreQueueShuffle.TicketFor(place, draw.Size, draw.Seed);
                        followers.Add(ticket, follower);
                        _connections[follower.ConnectionId] = (update.EventId, ticket);
                        assigned.Add((follower, ticket));
                    }
                }

                admitted = followers.TakeUpTo(update.ServingCursor);
            }

            if (assigned.Count > 0 || admitted.Count > 0)
            {
                // Not awaited: each admission is a call to the follower's shard, and one that hangs (its
                // silo just died) must hold up neither the others nor the next update of any event. The
                // drawn numbers at an opening go the same way: tens of thousands of personal messages,
                // each a publish to the backplane in cluster mode.
                // Numbers are told before any admission of a later update: a page must hear its number
                // before it hears it was let in. Admissions themselves may go in any order.
                var numbersBefore = _numbering.GetValueOrDefault(update.EventId) ?? Task.CompletedTask;
                var numbered = TellNumbers(update, assigned, numbersBefore);
                if (assigned.Count > 0)
                {
                    _numbering[update.EventId] = numbered;
                    _ = numbered.ContinueWith(done => _numbering.TryRemove(new KeyValuePair<string, Task>(update.EventId, done)), CancellationToken.None,
                        TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }

                var admitting = AdmitAfter(numbered, update.EventId, followers, admitted);
                _admitting[admitting] = true;
                _ = admitting.ContinueWith(done => _admitting.TryRemove(done, out _), CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Delivering a queue update for {EventId} failed", update.EventId);
        }
    }

    /// <summary>Admissions still being told, awaited when the gateway stops.</summary>
    private readonly ConcurrentDictionary<Task, bool> _admitting = new();

    // Numbers drawn before admissions, so that a follower drawn and admitted in one update hears in that order.
    /// <summary>Per event, the drawn numbers still being told; later admissions of the event wait for them.</summary>
    private readonly ConcurrentDictionary<string, Task> _numbering = new(StringComparer.Ordinal);

    private async Task AdmitAfter(Task numbered, string eventId, EventFollowers followers, List<(Follower Follower, long Ticket)> admitted)
    {
        await numbered;
        await AdmitAll(eventId, followers, admitted);
    }

    // After the numbers of earlier updates: sends never hang on a shard, so this holds nothing up for long.
    private async Task TellNumbers(QueueUpdate update, List<(Follower Follower, long Ticket)> assigned, Task before)
    {
        await before;
        await Parallel.ForEachAsync(assigned, InFlight, async (item, _) =>
        {
            try
            {
                await hub.Clients.User(item.Follower.UserId.ToString()).TicketAssigned(
                    new TicketAssignedMessage(update.EventId, item.Ticket, Math.Max(0, item.Ticket - update.ServingCursor)));
            }
            catch (Exception e)
            {
                // Like a message lost with a dropped connection: the page learns its number when it follows
                // again. Before, one failed send skipped every number and admission after it in the update.
                logger.LogWarning(e, "Telling {UserId} their drawn number in {EventId} failed", item.Follower.UserId, update.EventId);
            }
        });
    }

    private Task AdmitAll(string eventId, EventFollowers followers, List<(Follower Follower, long Ticket)> admitted) =>
        Parallel.ForEachAsync(admitted, InFlight, async (item, _) =>
        {
            try
            {
                await Admit(eventId, item.Follower, item.Ticket);
            }
            catch (Exception e)
            {
                // One follower's failure (their shard's silo just died, a timeout) must not cost the
                // others their message: this one goes back in line for a later update (at the latest the
                // one this gateway fetches itself every 30 s).
                logger.LogWarning(e, "Telling {UserId} of their admission to {EventId} failed; retrying with a later update", item.Follower.UserId, eventId);
                lock (followers)
                {
                    // Unless the browser has gone or follows another place by now.
                    if (_connections.TryGetValue(item.Follower.ConnectionId, out var now) && now == (eventId, item.Ticket))
                    {
                        followers.Add(item.Ticket, item.Follower);
                    }
                }
            }
        });

    /// <summary>Claims (or drawn numbers) in flight per update: enough to tell a tick's thousand admitted quickly.</summary>
    private const int AdmissionsInFlight = 32;

    private static readonly ParallelOptions InFlight = new() { MaxDegreeOfParallelism = AdmissionsInFlight };

    // The connection is live, so its user is present: claim their slot. The shard also says whether the
    // place still stands (they may have left or re-joined meanwhile), and when their session ends.
    private async Task Admit(string eventId, Follower follower, long ticket)
    {
        var status = await QueueShards.For(grains, eventId, follower.UserId).Claim(follower.UserId);
        if (status is { Status: QueueStatusKind.Admitted, SessionExpiresAt: { } expiresAt } && status.Place == follower.Place)
        {
            await hub.Clients.User(follower.UserId.ToString()).Admitted(new AdmittedMessage(
                eventId, ticket, tokens.SignAdmission(eventId, follower.UserId, expiresAt), expiresAt));
        }
    }

    private async Task Subscribe(string eventId) =>
        await grains.GetGrain<IEventQueueGrain>(eventId).Subscribe(Reference());

    /// <summary>
    /// This gateway's one observer reference. Made once: two references made by two first followers at
    /// the same moment would both be subscribed, and every update would reach every browser twice.
    /// </summary>
    private IQueueObserver Reference()
    {
        lock (_referenceLock)
        {
            return _reference ??= grains.CreateObjectReference<IQueueObserver>(this);
        }
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _resubscribeLoop = ResubscribeLoop(_stopping.Token);
        _deliveryLoop = Task.Run(DeliveryLoop, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        if (_resubscribeLoop is not null)
        {
            await _resubscribeLoop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _updates.Writer.TryComplete();
        if (_deliveryLoop is not null)
        {
            await _deliveryLoop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await Task.WhenAll(_admitting.Keys).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

        // Now, not in Dispose: the embedded silo stops after this service (hosted services stop in reverse
        // order), and deleting the reference once it has stopped throws, failing the host's disposal.
        lock (_referenceLock)
        {
            if (_reference is not null)
            {
                grains.DeleteObjectReference<IQueueObserver>(_reference);
                _reference = null;
            }
        }
    }

    /// <summary>Renewals in flight at once: one queue grain that does not answer holds up no other event's.</summary>
    private const int RenewalsInFlight = 16;

    // Queue grains forget observers that don't renew (and a grain that moved silos starts empty).
    private async Task ResubscribeLoop(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(ResubscribeEvery);
        while (await Next(timer, stopping))
        {
            try
            {
                await Parallel.ForEachAsync(_events, new ParallelOptions { MaxDegreeOfParallelism = RenewalsInFlight, CancellationToken = stopping },
                    (entry, _) => new ValueTask(Renew(entry.Key, entry.Value)));
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task Renew(string eventId, EventFollowers followers)
    {
        bool anyone;
        lock (followers)
        {
            anyone = followers.AnyWaiting;
        }

        if (!anyone)
        {
            // Nobody here waits for a message from this queue: stop renewing, and the queue grain forgets
            // this gateway within minutes (so a retired queue can be collected). The next follower subscribes anew.
            followers.Lapse();
            return;
        }

        try
        {
            if (followers.Subscribed)
            {
                await Subscribe(eventId);
            }
            else
            {
                // Followers whose subscription failed (they poll meanwhile) are subscribed here at the latest.
                await followers.Subscription(() => Subscribe(eventId));
            }

            // Catch up on admissions and drawn numbers this gateway missed (a queue grain that moved silos
            // sent its updates to nobody until now) or could not deliver: personal messages only.
            var latest = await grains.GetGrain<IEventQueueGrain>(eventId).GetLatest();
            bool behind;
            lock (followers)
            {
                behind = followers.AnyUpTo(latest.ServingCursor) || (latest.Draw is not null && followers.HasPreQueue);
            }

            if (behind)
            {
                _updates.Writer.TryWrite((latest, false));
            }
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Renewing the queue subscription of {EventId} failed", eventId);
        }
    }

    private static async Task<bool> Next(PeriodicTimer timer, CancellationToken stopping)
    {
        try
        {
            return await timer.WaitForNextTickAsync(stopping);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public void Dispose() => _stopping.Dispose();

    private sealed record Follower(string ConnectionId, Guid UserId, QueuePlace Place);

    /// <summary>Followers of one event keyed by ticket number (pre-queue places by their negated number).</summary>
    private sealed class EventFollowers
    {
        private readonly SortedDictionary<long, List<Follower>> _byKey = [];
        private readonly Lock _subscribing = new();
        private Task? _subscription;

        /// <summary>Whether the queue grain has taken this gateway's subscription (renewed every 30 s since).</summary>
        public bool Subscribed => Volatile.Read(ref _subscription) is { IsCompletedSuccessfully: true };

        /// <summary>
        /// The event's one subscription, made by the first caller and awaited by every other: all of them
        /// hear if it fails, and the next caller after a failure tries again.
        /// </summary>
        public Task Subscription(Func<Task> subscribe)
        {
            lock (_subscribing)
            {
                if (_subscription is null or { IsFaulted: true } or { IsCanceled: true })
                {
                    _subscription = subscribe();
                    Callers = 0;
                }

                Callers++;
                return _subscription;
            }
        }

        /// <summary>How many calls were handed the current subscription.</summary>
        public int Callers { get; private set; }

        /// <summary>Forgets a finished subscription no longer renewed, so the next follower makes a new one.</summary>
        public void Lapse()
        {
            lock (_subscribing)
            {
                if (_subscription is { IsCompleted: true })
                {
                    _subscription = null;
                }
            }
        }

        /// <summary>Whether anyone still waits for a drawn number or an admission.</summary>
        public bool AnyWaiting => _byKey.Count > 0;

        public bool HasPreQueue => _byKey.Count > 0 && _byKey.Keys.First() < 0;

        /// <summary>Whether a follower with a ticket (not a pre-queue place) is at or below the cursor.</summary>
        public bool AnyUpTo(long cursor) => _byKey.Keys.FirstOrDefault(key => key > 0) is > 0 and var lowest && lowest <= cursor;

        public void Add(long key, Follower follower)
        {
            if (!_byKey.TryGetValue(key, out var list))
            {
                _byKey[key] = list = [];
            }

            list.Add(follower);
        }

        public void Remove(long key, string connectionId)
        {
            if (_byKey.TryGetValue(key, out var list))
            {
                list.RemoveAll(f => f.ConnectionId == connectionId);
                if (list.Count == 0)
                {
                    _byKey.Remove(key);
                }
            }
        }

        public IEnumerable<(long Place, Follower Follower)> TakePreQueue()
        {
            var pre = _byKey.TakeWhile(kv => kv.Key < 0).ToList();
            foreach (var (key, _) in pre)
            {
                _byKey.Remove(key);
            }

            return pre.SelectMany(kv => kv.Value.Select(f => (-kv.Key, f)));
        }

        /// <summary>
        /// Removes and returns the followers with tickets up to the cursor. Admitted followers leave the
        /// index, so the walk from the lowest key touches only the newly admitted.
        /// </summary>
        public List<(Follower, long)> TakeUpTo(long toInclusive)
        {
            List<(Follower, long)> found = [];
            List<long> done = [];
            foreach (var (key, list) in _byKey)
            {
                if (key > toInclusive)
                {
                    break;
                }

                if (key > 0)
                {
                    // A follower below this tick's range joined the index after its admission raced
                    // ahead; it is admitted too.
                    found.AddRange(list.Select(f => (f, key)));
                    done.Add(key);
                }
            }

            foreach (var key in done)
            {
                _byKey.Remove(key);
            }

            return found;
        }
    }
}
