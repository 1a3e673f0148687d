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
/// <remarks>
/// With <see cref="HoldFor"/> the block stamps the expiry itself, on the clock it frees seats by, so a hold
/// lasts as long whichever silo asked for it. <see cref="ExpiresAt"/> is the asker's own reckoning, which
/// a block of the previous version uses (and which a caller of that version sends alone).
/// </remarks>
[GenerateSerializer, Immutable, Alias("tq.SeatHoldRequest")]
public sealed record SeatHoldRequest(
    [property: Id(0)] Guid HoldId,
    [property: Id(1)] IReadOnlyList<string>? SeatIds,
    [property: Id(2)] int? Quantity,
    [property: Id(3)] DateTimeOffset ExpiresAt,
    [property: Id(4)] TimeSpan? HoldFor = null);

[GenerateSerializer, Immutable, Alias("tq.SeatHold")]
public sealed record SeatHold(
    [property: Id(0)] Guid HoldId,
    [property: Id(1)] IReadOnlyList<string> SeatIds,
    [property: Id(2)] DateTimeOffset ExpiresAt);

/// <summary>
/// What a hold came to: the seats held, or, when they were taken or too few are left, why none were. In a
/// rush most attempts end in a refusal, so a refusal is an answer, not an exception thrown across grains.
/// </summary>
[GenerateSerializer, Immutable, Alias("tq.SeatHoldResult")]
public sealed record SeatHoldResult(
    [property: Id(0)] SeatHold? Hold,
    [property: Id(1)] SeatRefusal? Refusal)
{
    public static SeatHoldResult Held(SeatHold hold) => new(hold, null);

    public static SeatHoldResult Refused(string code, string detail, string field) => new(null, new SeatRefusal(code, detail, field));

    /// <summary>The hold, or the refusal as the 409 problem the caller answers with.</summary>
    public SeatHold HeldOrThrow() => Hold ?? throw Refusal!.ToException();
}

/// <summary>Why no seat was held: <c>seats-unavailable</c> (field <c>seatIds</c>) or <c>not-enough-seats</c> (<c>quantity</c>).</summary>
[GenerateSerializer, Immutable, Alias("tq.SeatRefusal")]
public sealed record SeatRefusal(
    [property: Id(0)] string Code,
    [property: Id(1)] string Detail,
    [property: Id(2)] string Field)
{
    /// <summary>The refusal as the 409 problem, for a caller that answers with an exception.</summary>
    public DomainException ToException() => DomainException.Conflict(Code, Detail, Field);
}

/// <summary>
/// Owns the seats of one block (key "{eventId}/{blockId}"). Holds are all-or-nothing and expire;
/// a seat is never held or sold twice.
/// </summary>
[Alias("tq.ISeatBlockGrain")]
public interface ISeatBlockGrain : IGrainWithStringKey
{
    /// <summary>
    /// Holds every requested seat or none. Repeating a hold with the same id returns the same seats. Seats
    /// that are taken, or too few left, are a <see cref="SeatHoldResult.Refusal"/>; a malformed request
    /// (unknown or repeated seats, both or neither of seats and quantity) is a <see cref="DomainException"/>.
    /// </summary>
    [Alias("Hold")] Task<SeatHoldResult> Hold(SeatHoldRequest request);

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
