using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Abstractions.Seats;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Grains.Reservations;

[GenerateSerializer, Alias("tq.UserReservationsState")]
public sealed class UserReservationsState
{
    /// <summary>The user's reservations, oldest first; at most <see cref="UserReservationsGrain.HistoryKept"/>.</summary>
    [Id(0)] public List<UserReservationRef> Reservations { get; set; } = [];

    /// <summary>Idempotency keys seen, with the request they stood for and its reservation.</summary>
    [Id(1)] public Dictionary<string, IdempotentReservation> IdempotencyKeys { get; set; } = [];

    /// <summary>The same keys in the order they arrived, so the oldest is forgotten first.</summary>
    [Id(2)] public Queue<string> IdempotencyOrder { get; set; } = [];
}

/// <summary>
/// A reservation of the user's, named (at <see cref="NamedAt"/>) before it is opened. <see cref="Closed"/>
/// once it is known expired or cancelled, or found never opened after its hold would have run out (a keyed
/// retry may still open it, and reopens the name).
/// </summary>
[GenerateSerializer, Immutable, Alias("tq.UserReservationRef")]
public sealed record UserReservationRef(
    [property: Id(0)] Guid ReservationId,
    [property: Id(1)] string EventId,
    [property: Id(2)] bool Closed = false,
    [property: Id(3)] DateTimeOffset? NamedAt = null);

[GenerateSerializer, Immutable, Alias("tq.IdempotentReservation")]
public sealed record IdempotentReservation([property: Id(0)] string Fingerprint, [property: Id(1)] Guid ReservationId);

/// <summary>
/// One user's purchases. Creating reservations through this grain serializes a user's attempts, so the
/// per-event ticket limit holds even when they fire many requests at once.
/// </summary>
public sealed class UserReservationsGrain(
    [PersistentState("userReservations", StorageNames.Reservations)] IPersistentState<UserReservationsState> state,
    TimeProvider time,
    ILogger<UserReservationsGrain> logger)
    : Grain, IUserReservationsGrain
{
    public const int HistoryKept = 100;
    private const int IdempotencyKeysKept = 200;

    private List<UserReservationRef> Reservations => state.State.Reservations;

    public async Task<ReservationOutcome> Reserve(string eventId, string blockId, IReadOnlyList<string>? seatIds, int? quantity, string? idempotencyKey, DateTimeOffset? admittedAt = null)
    {
        var fingerprint = $"{eventId}|{blockId}|{(seatIds is null ? "" : string.Join(',', seatIds))}|{quantity}";
        Guid reservationId;
        if (idempotencyKey is not null && state.State.IdempotencyKeys.TryGetValue(idempotencyKey, out var seen))
        {
            if (seen.Fingerprint != fingerprint)
            {
                throw DomainException.Conflict("idempotency-key-reused", "This Idempotency-Key was used for a different request.", "Idempotency-Key");
            }

            if (await GrainFactory.GetGrain<IReservationGrain>(seen.ReservationId).Get() is { } made)
            {
                return ReservationOutcome.Reserved(made);
            }

            // Recorded, but the call that was opening it failed before the reservation was saved: finish it.
            reservationId = seen.ReservationId;
        }
        else
        {
            reservationId = idempotencyKey is null ? Guid.NewGuid() : ReservationIdFor(idempotencyKey, fingerprint);
            if (Reservations.Exists(r => r.ReservationId == reservationId)
                && await GrainFactory.GetGrain<IReservationGrain>(reservationId).Get() is { } made)
            {
                // Made under this key before the key itself was forgotten (only the newest keys are kept).
                return ReservationOutcome.Reserved(made);
            }
        }

        var definition = await GrainFactory.GetGrain<IEventCatalogGrain>(EventCatalog.Key).Get(eventId)
            ?? throw DomainException.NotFound("event-not-found", $"There is no event '{eventId}'.");
        if (definition.SalesClosedAt(time.GetUtcNow()))
        {
            throw definition.SalesClosed();
        }

        var requested = seatIds?.Count ?? quantity ?? 0;
        var alreadyHeld = await SeatsHeldOrBought(eventId, definition.Queue.HoldDuration);
        if (alreadyHeld + requested > definition.TicketLimitPerUser)
        {
            throw DomainException.Conflict("ticket-limit-exceeded",
                $"At most {definition.TicketLimitPerUser} tickets per person for this event; you already hold {alreadyHeld}.",
                seatIds is null ? "quantity" : "seatIds");
        }

        // The seat block is asked first, under the reservation's id. In a rush most attempts are refused
        // (taken, sold out); a refusal then costs one call and never activates (and, in cluster mode,
        // reads from storage) a reservation that will not exist. A retry under the same id gets the
        // same hold back from the block, and the same reservation.
        var block = definition.FindBlock(blockId)
            ?? throw DomainException.Invalid("block-not-found", $"Event '{eventId}' has no block '{blockId}'.", "blockId");
        var seats = SeatBlocks.For(GrainFactory, eventId, blockId);
        // The block times the hold on its own clock: this silo's may disagree with it.
        var held = await seats.Hold(new SeatHoldRequest(
            reservationId, seatIds, quantity, time.GetUtcNow() + definition.Queue.HoldDuration, definition.Queue.HoldDuration));
        if (held.Hold is not { } hold)
        {
            return ReservationOutcome.Refused(held.Refusal!);
        }

        var reservation = GrainFactory.GetGrain<IReservationGrain>(reservationId);
        var opening = false;
        try
        {
            // Written ahead: the list names the reservation before the reservation exists. Whatever dies
            // after this point, every reservation that exists is counted toward the limit, so a retry
            // under another key cannot take the user past it. A name whose reservation never opened
            // counts nothing (the scan finds no reservation behind it).
            Record(reservationId, eventId, idempotencyKey, fingerprint);
            await this.WriteOrLeave(state);
            opening = true;
            return ReservationOutcome.Reserved(await reservation.Create(new ReservationRequest(
                reservationId, this.GetPrimaryKey(), eventId, blockId, hold, block.Price * hold.SeatIds.Count, definition.Currency, admittedAt)));
        }
        catch (Exception failure) when (idempotencyKey is null)
        {
            // A key-less request cannot be retried into this reservation: its id was drawn at random, and
            // the caller is told it failed. Left alone, its seats would stay held, from everyone, until
            // the hold expired. A keyed request keeps them: its retry reaches the same id and hold.
            await Abandon(reservation, seats, reservationId, opening, failure);
            throw;
        }
    }

    private void Record(Guid reservationId, string eventId, string? idempotencyKey, string fingerprint)
    {
        var known = Reservations.FindIndex(r => r.ReservationId == reservationId);
        if (known >= 0)
        {
            // Named before, and perhaps closed since when a scan found nothing behind it; it is being opened now.
            Reservations[known] = Reservations[known] with { Closed = false, NamedAt = time.GetUtcNow() };
        }
        else
        {
            Reservations.Add(new UserReservationRef(reservationId, eventId, NamedAt: time.GetUtcNow()));
            ForgetOldestClosed();
        }

        if (idempotencyKey is not null && !state.State.IdempotencyKeys.ContainsKey(idempotencyKey))
        {
            if (state.State.IdempotencyOrder.Count >= IdempotencyKeysKept)
            {
                state.State.IdempotencyKeys.Remove(state.State.IdempotencyOrder.Dequeue());
            }

            state.State.IdempotencyKeys[idempotencyKey] = new IdempotentReservation(fingerprint, reservationId);
            state.State.IdempotencyOrder.Enqueue(idempotencyKey);
        }
    }

    private async Task Abandon(IReservationGrain reservation, ISeatBlockGrain seats, Guid reservationId, bool opening, Exception failure)
    {
        // The name stays: a cancelled reservation, or one that never opened, counts nothing.
        try
        {
            if (opening)
            {
                // Its call failed, but the reservation may have been saved all the same (the answer lost,
                // or a write slower than the caller's patience). The reservation grain takes one call at a
                // time, so this waits behind a Create still running; cancelling releases its seats.
                try
                {
                    await reservation.Cancel(this.GetPrimaryKey());
                }
                catch (DomainException notOpened) when (notOpened.Kind == DomainErrorKind.NotFound)
                {
                }
                catch (Exception cancel)
                {
                    logger.LogWarning(cancel, "Reservation {ReservationId} failed ({Failure}) and could not be cancelled; its seats are released.",
                        reservationId, failure.Message);
                }
            }

            // Whatever the reservation did, the block sells these seats only to its id: released, no
            // payment for it can buy them (it would be refused and refunded).
            await seats.Release(reservationId);
        }
        catch (Exception undo)
        {
            logger.LogWarning(undo, "Reservation {ReservationId} failed ({Failure}) and could not be undone; its seats stay held until the hold expires.",
                reservationId, failure.Message);
        }
    }

    /// <summary>
    /// The reservation a keyed request stands for, derived from the user, the key and the request rather
    /// than drawn at random. If this grain dies after the reservation grain held the seats but before it
    /// saved the key, the client's retry reaches the same reservation grain, and with it the same hold,
    /// instead of holding a second set of seats while the first sits orphaned until it expires.
    /// </summary>
    private Guid ReservationIdFor(string idempotencyKey, string fingerprint)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes($"{this.GetPrimaryKey():N}\n{idempotencyKey}\n{fingerprint}"));
        var bytes = digest.AsSpan(0, 16);
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x80); // RFC 9562 version 8: a name-based id of our own making
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 9562 variant
        return new Guid(bytes, bigEndian: true);
    }

    public async Task<IReadOnlyList<ReservationView>> List()
    {
        var views = await Task.WhenAll(Reservations.Select(r => GrainFactory.GetGrain<IReservationGrain>(r.ReservationId).Get()));
        return [.. views.OfType<ReservationView>().OrderByDescending(v => v.CreatedAt)];
    }

    /// <summary>
    /// Seats of the user's pending and confirmed reservations for the event. Only reservations not yet
    /// known to be closed are asked, so the scan stays as small as what the user actually holds.
    /// </summary>
    private async Task<int> SeatsHeldOrBought(string eventId, TimeSpan holdDuration)
    {
        var open = Reservations.Where(r => r.EventId == eventId && !r.Closed).ToList();
        var views = await Task.WhenAll(open.Select(r => GrainFactory.GetGrain<IReservationGrain>(r.ReservationId).Get()));
        var now = time.GetUtcNow();
        var held = 0;
        for (var i = 0; i < open.Count; i++)
        {
            switch (views[i])
            {
                case { Status: ReservationStatus.PendingPayment or ReservationStatus.Confirmed } view:
                    held += view.Seats.Count;
                    break;
                case null when open[i].NamedAt is { } namedAt && now < namedAt + holdDuration:
                    // Named, not (yet) opened: a call that died with it may still arrive, so ask again next
                    // time. Once the hold it was made for has run out, a reservation opened late is expired.
                    break;
                default:
                    // Expired and cancelled are final.
                    Reservations[Reservations.IndexOf(open[i])] = open[i] with { Closed = true };
                    break;
            }
        }

        return held;
    }

    // The history is bounded: past the cap, the oldest closed reservation is forgotten. Open ones are
    // never dropped (they count toward the limit), and the ticket limit bounds how many there can be.
    private void ForgetOldestClosed()
    {
        while (Reservations.Count > HistoryKept)
        {
            var oldestClosed = Reservations.FindIndex(r => r.Closed);
            if (oldestClosed < 0)
            {
                return;
            }

            Reservations.RemoveAt(oldestClosed);
        }
    }
}
