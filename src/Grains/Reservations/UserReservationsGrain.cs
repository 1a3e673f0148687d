using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Grains.Reservations;

[GenerateSerializer, Alias("tq.UserReservationsState")]
public sealed class UserReservationsState
{
    [Id(0)] public List<UserReservationRef> Reservations { get; set; } = [];

    /// <summary>Idempotency keys seen, with the request they stood for and its reservation.</summary>
    [Id(1)] public Dictionary<string, IdempotentReservation> IdempotencyKeys { get; set; } = [];
}

[GenerateSerializer, Immutable, Alias("tq.UserReservationRef")]
public sealed record UserReservationRef([property: Id(0)] Guid ReservationId, [property: Id(1)] string EventId);

[GenerateSerializer, Immutable, Alias("tq.IdempotentReservation")]
public sealed record IdempotentReservation([property: Id(0)] string Fingerprint, [property: Id(1)] Guid ReservationId);

/// <summary>
/// One user's purchases. Creating reservations through this grain serializes a user's attempts, so the
/// per-event ticket limit holds even when they fire many requests at once.
/// </summary>
public sealed class UserReservationsGrain(
    [PersistentState("userReservations", StorageNames.Default)] IPersistentState<UserReservationsState> state)
    : Grain, IUserReservationsGrain
{
    private const int IdempotencyKeysKept = 200;

    public async Task<ReservationView> Reserve(string eventId, string blockId, IReadOnlyList<string>? seatIds, int? quantity, string? idempotencyKey)
    {
        var fingerprint = $"{eventId}|{blockId}|{(seatIds is null ? "" : string.Join(',', seatIds))}|{quantity}";
        if (idempotencyKey is not null && state.State.IdempotencyKeys.TryGetValue(idempotencyKey, out var seen))
        {
            return seen.Fingerprint == fingerprint
                ? (await GrainFactory.GetGrain<IReservationGrain>(seen.ReservationId).Get())!
                : throw DomainException.Conflict("idempotency-key-reused", "This Idempotency-Key was used for a different request.", "Idempotency-Key");
        }

        var definition = await GrainFactory.GetGrain<IEventCatalogGrain>(EventCatalog.Key).Get(eventId)
            ?? throw DomainException.NotFound("event-not-found", $"There is no event '{eventId}'.");
        var requested = seatIds?.Count ?? quantity ?? 0;
        var alreadyHeld = await SeatsHeldOrBought(eventId);
        if (alreadyHeld + requested > definition.TicketLimitPerUser)
        {
            throw DomainException.Conflict("ticket-limit-exceeded",
                $"At most {definition.TicketLimitPerUser} tickets per person for this event; you already hold {alreadyHeld}.",
                seatIds is null ? "quantity" : "seatIds");
        }

        var reservationId = Guid.NewGuid();
        var view = await GrainFactory.GetGrain<IReservationGrain>(reservationId).Create(
            new ReservationRequest(reservationId, this.GetPrimaryKey(), eventId, blockId, seatIds, quantity));

        state.State.Reservations.Add(new UserReservationRef(reservationId, eventId));
        if (idempotencyKey is not null)
        {
            if (state.State.IdempotencyKeys.Count >= IdempotencyKeysKept)
            {
                state.State.IdempotencyKeys.Remove(state.State.IdempotencyKeys.Keys.First());
            }

            state.State.IdempotencyKeys[idempotencyKey] = new IdempotentReservation(fingerprint, reservationId);
        }

        await state.WriteStateAsync();
        return view;
    }

    public async Task<IReadOnlyList<ReservationView>> List()
    {
        var views = await Task.WhenAll(state.State.Reservations.Select(r => GrainFactory.GetGrain<IReservationGrain>(r.ReservationId).Get()));
        return [.. views.OfType<ReservationView>().OrderByDescending(v => v.CreatedAt)];
    }

    private async Task<int> SeatsHeldOrBought(string eventId)
    {
        var views = await Task.WhenAll(state.State.Reservations
            .Where(r => r.EventId == eventId)
            .Select(r => GrainFactory.GetGrain<IReservationGrain>(r.ReservationId).Get()));
        return views.OfType<ReservationView>()
            .Where(v => v.Status is ReservationStatus.PendingPayment or ReservationStatus.Confirmed)
            .Sum(v => v.Seats.Count);
    }
}
