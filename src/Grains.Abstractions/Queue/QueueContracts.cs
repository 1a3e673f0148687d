using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace TicketQueue.Grains.Abstractions.Queue;

public enum QueueStatusKind
{
    /// <summary>Joined before sales opened; the order is drawn at random when they open.</summary>
    PreQueue = 0,
    Waiting = 1,
    Admitted = 2,
    /// <summary>Admitted, but the shopping session is over; joining again starts a new place at the back.</summary>
    Expired = 3,
}

/// <summary>
/// A place in line as the queue grain knows it. Before sales open, <see cref="Number"/> is the order of
/// arrival in the pre-queue; afterwards it is the ticket number itself.
/// </summary>
[GenerateSerializer, Immutable, Alias("tq.QueuePlace")]
public readonly record struct QueuePlace([property: Id(0)] bool PreQueue, [property: Id(1)] long Number);

/// <summary>Where a place stands now.</summary>
[GenerateSerializer, Immutable, Alias("tq.QueueStatus")]
public sealed record QueueStatus(
    [property: Id(0)] string EventId,
    [property: Id(1)] QueuePlace Place,
    [property: Id(2)] QueueStatusKind Status,
    [property: Id(3)] long? TicketNumber,
    [property: Id(4)] long? Position,
    [property: Id(5)] long? EstimatedWaitSeconds,
    [property: Id(6)] long ServingCursor,
    [property: Id(7)] int? BatchId,
    [property: Id(8)] DateTimeOffset? AdmittedAt,
    [property: Id(9)] DateTimeOffset? SessionExpiresAt,
    [property: Id(10)] DateTimeOffset SalesOpenAt,
    [property: Id(11)] bool Paused,
    [property: Id(12)] bool SalesClosed = false,
    [property: Id(13)] DateTimeOffset? ClaimBy = null,
    [property: Id(14)] bool? ClaimWindowClosed = null);

/// <summary>Sent to every gateway once per admission tick that moved the cursor (and on open, pause, resume).</summary>
[GenerateSerializer, Immutable, Alias("tq.QueueUpdate")]
public sealed record QueueUpdate(
    [property: Id(0)] string EventId,
    [property: Id(1)] long ServingCursor,
    [property: Id(2)] long AdmittedFromExclusive,
    [property: Id(3)] long LastIssued,
    [property: Id(4)] DateTimeOffset? AdmittedAt,
    [property: Id(5)] DateTimeOffset? SessionExpiresAt,
    [property: Id(6)] bool Opened,
    [property: Id(7)] bool Paused,
    [property: Id(8)] double AdmissionsPerMinute,
    [property: Id(9)] PreQueueDraw? Draw,
    [property: Id(10)] double PacePerMinute,
    [property: Id(11)] bool SalesClosed = false);

/// <summary>
/// The pre-queue's random order, fixed at opening: pre-queue place p gets ticket
/// <c>PreQueueShuffle.TicketFor(p, Size, Seed)</c>. Gateways use it to tell their followers their ticket.
/// </summary>
[GenerateSerializer, Immutable, Alias("tq.PreQueueDraw")]
public sealed record PreQueueDraw([property: Id(0)] long Size, [property: Id(1)] ulong Seed);

[GenerateSerializer, Immutable, Alias("tq.QueueStats")]
public sealed record QueueStats(
    [property: Id(0)] long Waiting,
    [property: Id(1)] long Admitted,
    [property: Id(2)] long ActiveShoppers,
    [property: Id(3)] long Issued,
    [property: Id(4)] long ServingCursor,
    [property: Id(5)] long PreQueued,
    [property: Id(6)] bool Opened,
    [property: Id(7)] QueueSettings Settings);

[GenerateSerializer, Immutable, Alias("tq.QueueSettingsUpdate")]
public sealed record QueueSettingsUpdate(
    [property: Id(0)] int? AdmissionsPerMinute,
    [property: Id(1)] int? MaxActiveShoppers,
    [property: Id(2)] bool? Paused);

/// <summary>A gateway process listening for cursor moves. One-way: a slow gateway never stalls the queue.</summary>
[Alias("tq.IQueueObserver")]
public interface IQueueObserver : IGrainObserver
{
    [OneWay, Alias("OnQueueUpdate")] Task OnQueueUpdate(QueueUpdate update);
}

/// <summary>
/// One event's waiting room, built on counters: the last ticket issued and the serving cursor.
/// It keeps no per-user list; per-user records live in <see cref="IQueueShardGrain"/>.
/// </summary>
[Alias("tq.IEventQueueGrain")]
public interface IEventQueueGrain : IGrainWithStringKey
{
    /// <summary>Hands out the next place (a pre-queue place before sales open) and where it stands.</summary>
    [Alias("Issue")] Task<QueueStatus> Issue();

    [Alias("Describe")] Task<QueueStatus> Describe(QueuePlace place);

    /// <summary>
    /// The admitted shopper at this place showed up: they keep counting as active after the claim window.
    /// Told twice (a retry after a crash), it counts once.
    /// </summary>
    [Alias("Claim.Place")] Task Claim(QueuePlace place);

    /// <summary>
    /// The admitted shopper at this place showed up, counted only inside the claim window on this grain's
    /// clock, in the same step that judges it: true once counted (told again after a crash, still true),
    /// false when the window closed before they were counted (a tick may have given their slot to the
    /// next in line) or their session is over. Replaces <see cref="Claim(QueuePlace)"/>, whose count could
    /// land after the window closed.
    /// </summary>
    [Alias("ClaimInWindow")] Task<bool> ClaimInWindow(QueuePlace place);

    /// <summary>
    /// The admitted shopper at this place is done (bought, cancelled or left): their slot is free again.
    /// Told twice, it counts once.
    /// </summary>
    [Alias("Finish.Place")] Task Finish(QueuePlace place);

    /// <summary>
    /// The claim of shards from before per-ticket counting, kept under its old alias for the length of a
    /// rolling upgrade: counted by batch, as those shards did (a repeat counts twice).
    /// </summary>
    [Alias("Claim")] Task ClaimInBatch(int batchId);

    /// <summary>The finish of shards from before per-ticket counting, as <see cref="ClaimInBatch"/>.</summary>
    [Alias("Finish")] Task FinishInBatch(int batchId, bool claimed);

    [Alias("GetStats")] Task<QueueStats> GetStats();

    [Alias("UpdateSettings")] Task<QueueStats> UpdateSettings(QueueSettingsUpdate update);

    /// <summary>The latest update, for a gateway that just subscribed or a client that just connected.</summary>
    [Alias("GetLatest")] Task<QueueUpdate> GetLatest();

    [Alias("Subscribe")] Task Subscribe(IQueueObserver observer);

    [Alias("Unsubscribe")] Task Unsubscribe(IQueueObserver observer);
}

/// <summary>
/// Per-user queue records for one slice of the users of one event. Sharding by user spreads joins over
/// the cluster and keeps the queue grain free of per-user state.
/// </summary>
[Alias("tq.IQueueShardGrain")]
public interface IQueueShardGrain : IGrainWithStringKey
{
    /// <summary>Joins the queue; joining again returns the same place while it is still good.</summary>
    [Alias("Join")] Task<QueueStatus> Join(Guid userId);

    /// <summary>Where the user stands, or null when they are not in this event's queue.</summary>
    [Alias("GetStatus")] Task<QueueStatus?> GetStatus(Guid userId);

    /// <summary>Marks the admitted user as present: their admission token was handed to them.</summary>
    [Alias("Claim")] Task<QueueStatus?> Claim(Guid userId);

    [Alias("Leave")] Task<bool> Leave(Guid userId);

    /// <summary>
    /// The user finished shopping: frees their active-shopper slot, whichever admission holds it. Kept
    /// for silos of the previous version; a purchase calls <see cref="FinishPurchase"/>.
    /// </summary>
    [Alias("Finish")] Task Finish(Guid userId);

    /// <summary>
    /// A purchase made in the admission stamped <paramref name="admittedAt"/> completed: frees that
    /// admission's slot. A later admission is left alone: a hold can outlast its session, and the buyer may
    /// have been admitted again by the time they pay. The stamp is the queue's own (a caller of the
    /// previous version sends the reservation's creation time, which compares the same way on one clock).
    /// </summary>
    [Alias("FinishPurchase")] Task FinishPurchase(Guid userId, DateTimeOffset admittedAt);
}

public static class QueueShards
{
    /// <summary>Shards per event. Fixed: changing it would move users between shards.</summary>
    public const int Count = 64;

    public static string KeyFor(string eventId, Guid userId) => $"{eventId}#{ShardOf(userId)}";

    public static int ShardOf(Guid userId)
    {
        Span<byte> bytes = stackalloc byte[16];
        userId.TryWriteBytes(bytes);
        // Guids are random; their first bytes spread users evenly without a hash function.
        return (int)(BitConverter.ToUInt32(bytes) % Count);
    }

    // Making a grain reference costs more than a join's own work in the shard (Orleans resolves the
    // interface's grain type by reflection each time), so each event's 64 shard references are made once
    // per grain factory and kept. Only events that exist get here: callers check the event first.
    private static readonly ConditionalWeakTable<IGrainFactory, ConcurrentDictionary<string, IQueueShardGrain[]>> References = [];

    public static IQueueShardGrain For(IGrainFactory grains, string eventId, Guid userId) =>
        References.GetValue(grains, _ => new(StringComparer.Ordinal))
            .GetOrAdd(eventId, (id, factory) => [.. Enumerable.Range(0, Count).Select(shard => factory.GetGrain<IQueueShardGrain>($"{id}#{shard}"))], grains)
            [ShardOf(userId)];
}
