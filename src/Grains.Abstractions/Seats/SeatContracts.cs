namespace TicketQueue.Grains.Abstractions.Seats;

public enum SeatStatus
{
    Available = 0,
    Held = 1,
    Sold = 2,
}

[GenerateSerializer, Immutable, Alias("tq.SeatView")]
public sealed record SeatView(
    [property: Id(0)] string SeatId,
    [property: Id(1)] string Row,
    [property: Id(2)] int Number,
    [property: Id(3)] SeatStatus Status);

[GenerateSerializer, Immutable, Alias("tq.SeatCounts")]
public sealed record SeatCounts(
    [property: Id(0)] int Total,
    [property: Id(1)] int Available,
    [property: Id(2)] int Held,
    [property: Id(3)] int Sold);

/// <summary>Either explicit seats or a quantity of best-available seats, never both.</summary>
[GenerateSerializer, Immutable, Alias("tq.SeatHoldRequest")]
public sealed record SeatHoldRequest(
    [property: Id(0)] Guid HoldId,
    [property: Id(1)] IReadOnlyList<string>? SeatIds,
    [property: Id(2)] int? Quantity,
    [property: Id(3)] DateTimeOffset ExpiresAt);

[GenerateSerializer, Immutable, Alias("tq.SeatHold")]
public sealed record SeatHold(
    [property: Id(0)] Guid HoldId,
    [property: Id(1)] IReadOnlyList<string> SeatIds,
    [property: Id(2)] DateTimeOffset ExpiresAt);

/// <summary>
/// Owns the seats of one block (key "{eventId}/{blockId}"). Holds are all-or-nothing and expire;
/// a seat is never held or sold twice.
/// </summary>
[Alias("tq.ISeatBlockGrain")]
public interface ISeatBlockGrain : IGrainWithStringKey
{
    /// <summary>Holds every requested seat or none. Repeating a hold with the same id returns the same seats.</summary>
    [Alias("Hold")] Task<SeatHold> Hold(SeatHoldRequest request);

    /// <summary>Frees the seats of a hold, sold ones included (a cancelled, refunded purchase). Idempotent.</summary>
    [Alias("Release")] Task Release(Guid holdId);

    /// <summary>
    /// Sells the held seats if the hold still holds exactly <paramref name="seatIds"/> (the seats the buyer
    /// was shown). False when the hold expired, is unknown or holds other seats; true again on repeat.
    /// </summary>
    [Alias("Confirm")] Task<bool> Confirm(Guid holdId, IReadOnlyList<string> seatIds);

    [Alias("GetSeats")] Task<IReadOnlyList<SeatView>> GetSeats();

    [Alias("GetCounts")] Task<SeatCounts> GetCounts();
}

public static class SeatBlocks
{
    public static string KeyFor(string eventId, string blockId) => $"{eventId}/{blockId}";

    public static ISeatBlockGrain For(IGrainFactory grains, string eventId, string blockId) =>
        grains.GetGrain<ISeatBlockGrain>(KeyFor(eventId, blockId));
}
