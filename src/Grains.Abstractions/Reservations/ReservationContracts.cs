using TicketQueue.Grains.Abstractions.Seats;

namespace TicketQueue.Grains.Abstractions.Reservations;

public enum ReservationStatus
{
    PendingPayment = 0,
    Confirmed = 1,
    Expired = 2,
    Cancelled = 3,
}

/// <summary>A reservation to open for a hold the seat block granted under the reservation's id, at its price.</summary>
[GenerateSerializer, Immutable, Alias("tq.ReservationRequest")]
public sealed record ReservationRequest(
    [property: Id(0)] Guid ReservationId,
    [property: Id(1)] Guid UserId,
    [property: Id(2)] string EventId,
    [property: Id(3)] string BlockId,
    [property: Id(6)] SeatHold Hold,
    [property: Id(7)] decimal Amount,
    [property: Id(8)] string Currency,
    [property: Id(9)] DateTimeOffset? AdmittedAt = null);

[GenerateSerializer, Immutable, Alias("tq.PaymentInfo")]
public sealed record PaymentInfo(
    [property: Id(0)] string Provider,
    [property: Id(1)] string PaymentId,
    [property: Id(2)] decimal Amount,
    [property: Id(3)] bool Refunded,
    [property: Id(4)] DateTimeOffset ApprovedAt,
    [property: Id(5)] DateTimeOffset? RefundedAt);

[GenerateSerializer, Immutable, Alias("tq.ReservationView")]
public sealed record ReservationView(
    [property: Id(0)] Guid ReservationId,
    [property: Id(1)] Guid UserId,
    [property: Id(2)] string EventId,
    [property: Id(3)] string BlockId,
    [property: Id(4)] IReadOnlyList<string> Seats,
    [property: Id(5)] decimal Amount,
    [property: Id(6)] string Currency,
    [property: Id(7)] ReservationStatus Status,
    [property: Id(8)] DateTimeOffset CreatedAt,
    [property: Id(9)] DateTimeOffset ExpiresAt,
    [property: Id(10)] PaymentInfo? Payment,
    [property: Id(11)] DateTimeOffset? ConfirmedAt,
    [property: Id(12)] DateTimeOffset? ClosedAt);

/// <summary>
/// What a reservation attempt came to: the reservation, or the seat block's refusal (the seats were taken,
/// or too few are left). In a rush most attempts are refused; a refusal is an answer, not an exception.
/// </summary>
[GenerateSerializer, Immutable, Alias("tq.ReservationOutcome")]
public sealed record ReservationOutcome(
    [property: Id(0)] ReservationView? Reservation,
    [property: Id(1)] SeatRefusal? Refusal)
{
    public static ReservationOutcome Reserved(ReservationView reservation) => new(reservation, null);

    public static ReservationOutcome Refused(SeatRefusal refusal) => new(null, refusal);

    /// <summary>The reservation, or the refusal as the 409 problem the caller answers with.</summary>
    public ReservationView ReservedOrThrow() => Reservation ?? throw Refusal!.ToException();
}

[GenerateSerializer, Immutable, Alias("tq.PaymentCommand")]
public sealed record PaymentCommand(
    [property: Id(0)] Guid UserId,
    [property: Id(1)] string Provider,
    [property: Id(2)] string? PaymentId);

/// <summary>
/// One purchase: hold seats, await payment, then confirmed, or expired/cancelled with seats released.
/// Every step is idempotent, so retries and duplicate webhooks are harmless.
/// </summary>
[Alias("tq.IReservationGrain")]
public interface IReservationGrain : IGrainWithGuidKey
{
    /// <summary>Opens the reservation for a hold already granted and starts the payment clock. Repeating it returns the same reservation.</summary>
    [Alias("Create")] Task<ReservationView> Create(ReservationRequest request);

    [Alias("Get")] Task<ReservationView?> Get();

    /// <summary>
    /// Takes payment and sells the seats. A payment that lands after the hold expired is refunded and
    /// the call fails with code "reservation-expired"; it never sells a seat.
    /// </summary>
    [Alias("Pay")] Task<ReservationView> Pay(PaymentCommand command);

    /// <summary>Cancels: frees the seats and refunds a payment if one was taken. Idempotent.</summary>
    [Alias("Cancel")] Task<ReservationView> Cancel(Guid userId);
}

/// <summary>What one user did: their reservations, the per-event ticket limit, idempotency keys.</summary>
[Alias("tq.IUserReservationsGrain")]
public interface IUserReservationsGrain : IGrainWithGuidKey
{
    /// <summary>
    /// Creates a reservation unless it would take the user over the event's ticket limit. The same
    /// idempotency key with the same request returns the first reservation. Seats taken or too few left
    /// are a <see cref="ReservationOutcome.Refusal"/>; every other refusal (the ticket limit, an unknown
    /// event or block, a reused key) is a <see cref="DomainException"/>. (A new alias: the method once
    /// answered a bare view, and a silo of that version must not be handed this one's answer.)
    /// <paramref name="admittedAt"/> is the queue's own stamp of the admission the shopper holds (from the
    /// claim): paying ends that admission's session and no later one, judged on the queue's clock alone.
    /// Without it (a caller of the previous version) the reservation's creation time stands in.
    /// </summary>
    [Alias("Reserve.Outcome")] Task<ReservationOutcome> Reserve(string eventId, string blockId, IReadOnlyList<string>? seatIds, int? quantity, string? idempotencyKey, DateTimeOffset? admittedAt = null);

    [Alias("List")] Task<IReadOnlyList<ReservationView>> List();
}
