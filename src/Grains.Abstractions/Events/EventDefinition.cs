using Orleans.Concurrency;
namespace TicketQueue.Grains.Abstractions.Events;

/// <summary>An event on sale: where and when, its seat blocks, the per-user limit and its queue settings.</summary>
[GenerateSerializer, Immutable, Alias("tq.EventDefinition")]
public sealed record EventDefinition(
    [property: Id(0)] string EventId,
    [property: Id(1)] string Name,
    [property: Id(2)] string Venue,
    [property: Id(3)] DateTimeOffset StartsAt,
    [property: Id(4)] DateTimeOffset SalesOpenAt,
    [property: Id(5)] string Currency,
    [property: Id(6)] int TicketLimitPerUser,
    [property: Id(7)] IReadOnlyList<SeatBlockDefinition> Blocks,
    [property: Id(8)] QueueSettings Queue)
{
    public SeatBlockDefinition? FindBlock(string blockId) => Blocks.FirstOrDefault(b => b.BlockId == blockId);

    /// <summary>Selling stops when the event starts: no joining its queue, no new holds (a hold made before may still be paid).</summary>
    public bool SalesClosedAt(DateTimeOffset now) => now >= StartsAt;

    public bool OnSaleAt(DateTimeOffset now) => now >= SalesOpenAt && !SalesClosedAt(now);

    /// <summary>The problem for a sale attempt after the event started.</summary>
    public DomainException SalesClosed() =>
        DomainException.Conflict("sales-closed", $"Sales for '{EventId}' closed when the event started ({StartsAt:yyyy-MM-dd HH:mm zzz}).");
}

/// <summary>A block of seats laid out in rows (A, B, ...), each with the same number of seats and one price.</summary>
[GenerateSerializer, Immutable, Alias("tq.SeatBlockDefinition")]
public sealed record SeatBlockDefinition(
    [property: Id(0)] string BlockId,
    [property: Id(1)] string Name,
    [property: Id(2)] int Rows,
    [property: Id(3)] int SeatsPerRow,
    [property: Id(4)] decimal Price)
{
    public int Capacity => Rows * SeatsPerRow;
}

/// <summary>How fast the waiting room admits shoppers and how long they may shop and hold seats.</summary>
[GenerateSerializer, Immutable, Alias("tq.QueueSettings")]
public sealed record QueueSettings(
    [property: Id(0)] int AdmissionsPerMinute,
    [property: Id(1)] int MaxActiveShoppers,
    [property: Id(2)] TimeSpan ClaimWindow,
    [property: Id(3)] TimeSpan ShoppingSession,
    [property: Id(4)] TimeSpan HoldDuration,
    [property: Id(5)] bool Paused = false);

/// <summary>The registry of events. One activation; the gateway caches what it reads.</summary>
[Alias("tq.IEventCatalogGrain")]
public interface IEventCatalogGrain : IGrainWithIntegerKey
{
    /// <summary>Creates the event; fails with a conflict when the id is taken by a different event.</summary>
    [Alias("Create")] Task<EventDefinition> Create(EventDefinition definition);

    /// <summary>Creates the event unless one with this id exists; used by the demo seeder.</summary>
    [Alias("CreateIfAbsent")] Task<bool> CreateIfAbsent(EventDefinition definition);

    /// <summary>The stored definition; answered even while a create is being written.</summary>
    [Alias("Get"), AlwaysInterleave] Task<EventDefinition?> Get(string eventId);

    [Alias("List"), AlwaysInterleave] Task<IReadOnlyList<EventDefinition>> List();
}

public static class EventCatalog
{
    public const long Key = 0;
}
