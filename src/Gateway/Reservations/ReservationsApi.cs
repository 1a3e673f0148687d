using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using TicketQueue.Gateway.Auth;
using TicketQueue.Gateway.Events;
using TicketQueue.Gateway.Problems;
using TicketQueue.Gateway.Queue;
using TicketQueue.Grains.Abstractions.Payments;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Abstractions.Reservations;

namespace TicketQueue.Gateway.Reservations;

public sealed record CreateReservationRequest(string? BlockId, IReadOnlyList<string>? SeatIds, int? Quantity);

public sealed record PaymentRequest(string? Provider, string? PaymentId);

public sealed record SandboxCheckoutRequest(Guid? ReservationId);

public sealed record SandboxCheckoutResponse(string PaymentId, Guid ReservationId, decimal Amount, string Currency);

public sealed record ReservationResponse(
    Guid ReservationId, string EventId, string BlockId, IReadOnlyList<string> Seats, decimal Amount, string Currency,
    ReservationStatus Status, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? ConfirmedAt,
    DateTimeOffset? ClosedAt, PaymentInfo? Payment)
{
    public static ReservationResponse From(ReservationView v) => new(
        v.ReservationId, v.EventId, v.BlockId, v.Seats, v.Amount, v.Currency, v.Status, v.CreatedAt, v.ExpiresAt,
        v.ConfirmedAt, v.ClosedAt, v.Payment);
}

public static class ReservationsApi
{
    public const string AdmissionHeader = "X-Admission-Token";
    public const string IdempotencyHeader = "Idempotency-Key";

    public static IEndpointRouteBuilder MapReservationsApi(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/api/events/{eventId}/reservations", Create)
            .WithTags("Reservations").RequireAuthorization()
            .ProducesProblem(400).ProducesProblem(403).ProducesProblem(404).ProducesProblem(409);

        var reservations = routes.MapGroup("/api/reservations").WithTags("Reservations").RequireAuthorization();
        reservations.MapGet("/", List);
        reservations.MapGet("/{reservationId}", Get).ProducesProblem(404);
        reservations.MapPost("/{reservationId}/payment", Pay).ProducesProblem(400).ProducesProblem(404).ProducesProblem(409);
        reservations.MapPost("/{reservationId}/cancel", Cancel).ProducesProblem(404).ProducesProblem(409);

        // The sandbox payment company's checkout: a browser pays there first, then hands us the payment id.
        routes.MapPost("/api/payments/sandbox/checkout", SandboxCheckout)
            .WithTags("Payments").RequireAuthorization().ProducesProblem(400).ProducesProblem(404);
        return routes;
    }

    private static async Task<Results<Created<ReservationResponse>, ProblemHttpResult>> Create(
        string eventId,
        CreateReservationRequest? body,
        [FromHeader(Name = AdmissionHeader)] string? admissionToken,
        [FromHeader(Name = IdempotencyHeader)] string? idempotencyKey,
        HttpContext http, EventCache events, IGrainFactory grains, QueueTokens tokens)
    {
        var e = await events.Require(eventId);
        var userId = http.User.UserId();
        tokens.VerifyAdmission(admissionToken, eventId, userId);

        body = Require.NotNull(body, "body");
        var blockId = Require.Text(body.BlockId, "blockId", 64);
        if (e.FindBlock(blockId) is null)
        {
            throw DomainException.Invalid("block-not-found", $"This event has no block '{blockId}'.", "blockId");
        }

        if ((body.SeatIds is null) == (body.Quantity is null))
        {
            throw DomainException.Invalid("seats-or-quantity", "Send either seatIds or quantity, exactly one of them.", body.SeatIds is null ? "quantity" : "seatIds");
        }

        if (body.Quantity is { } quantity && (quantity < 1 || quantity > e.TicketLimitPerUser))
        {
            throw DomainException.Invalid("out-of-range", $"'quantity' must be between 1 and {e.TicketLimitPerUser}.", "quantity");
        }

        if (body.SeatIds is { } seatIds && (seatIds.Count < 1 || seatIds.Count > e.TicketLimitPerUser || seatIds.Any(s => string.IsNullOrWhiteSpace(s) || s.Length > 16)))
        {
            throw DomainException.Invalid("invalid-seats", $"'seatIds' must name 1 to {e.TicketLimitPerUser} seats like \"A-1\".", "seatIds");
        }

        if (http.Request.Headers[IdempotencyHeader].Count > 1 || idempotencyKey?.Contains(',') == true)
        {
            // Two headers, or one folded into "k1, k2" (the same thing in HTTP), bind as one key that neither
            // retry would ever send again.
            throw DomainException.Invalid("invalid-idempotency-key", "Send one Idempotency-Key, without commas.", IdempotencyHeader);
        }

        if (idempotencyKey is { Length: 0 or > 100 })
        {
            throw DomainException.Invalid("invalid-idempotency-key", "An Idempotency-Key must be 1 to 100 characters.", IdempotencyHeader);
        }

        // The token proves admission; the shard records that this shopper showed up. The shard has the
        // last word: a shopper who left the queue gave their slot to the next in line, and one who joined
        // again waits at the back, whatever token they still hold.
        var place = await QueueShards.For(grains, eventId, userId).Claim(userId);
        if (place is { Status: QueueStatusKind.Expired })
        {
            throw new DomainException(DomainErrorKind.Forbidden, "admission-expired", "Your shopping session is over (it ends with time or with a completed purchase); join the queue again.", AdmissionHeader);
        }

        if (place is not { Status: QueueStatusKind.Admitted })
        {
            throw new DomainException(DomainErrorKind.Forbidden, "admission-revoked", "You left the queue after your admission; join again and wait for your turn.", AdmissionHeader);
        }

        var outcome = await grains.GetGrain<IUserReservationsGrain>(userId).Reserve(eventId, blockId, body.SeatIds, body.Quantity, idempotencyKey, place.AdmittedAt);
        if (outcome is { Refusal: { } refusal })
        {
            // Taken seats are the common answer in a rush: written as the problem, without an exception.
            return TypedResults.Problem(ProblemExceptionHandler.Create(StatusCodes.Status409Conflict, refusal.Code, refusal.Detail, refusal.Field));
        }

        var view = outcome.ReservedOrThrow();
        return TypedResults.Created($"/api/reservations/{view.ReservationId}", ReservationResponse.From(view));
    }

    private static async Task<Ok<IReadOnlyList<ReservationResponse>>> List(HttpContext http, IGrainFactory grains)
    {
        var views = await grains.GetGrain<IUserReservationsGrain>(http.User.UserId()).List();
        return TypedResults.Ok<IReadOnlyList<ReservationResponse>>([.. views.Select(ReservationResponse.From)]);
    }

    private static async Task<Ok<ReservationResponse>> Get(string reservationId, HttpContext http, IGrainFactory grains) =>
        TypedResults.Ok(ReservationResponse.From(await Owned(reservationId, http, grains)));

    private static async Task<Ok<ReservationResponse>> Pay(string reservationId, PaymentRequest? body, HttpContext http, IGrainFactory grains)
    {
        var id = Require.Id(reservationId, "reservation-not-found", "reservation");
        body = Require.NotNull(body, "body");
        var provider = Require.Text(body.Provider, "provider", 32);
        var paymentId = body.PaymentId is null ? null : Require.Text(body.PaymentId, "paymentId", 100);
        var view = await grains.GetGrain<IReservationGrain>(id).Pay(new PaymentCommand(http.User.UserId(), provider, paymentId));
        return TypedResults.Ok(ReservationResponse.From(view));
    }

    private static async Task<Ok<ReservationResponse>> Cancel(string reservationId, HttpContext http, IGrainFactory grains)
    {
        var id = Require.Id(reservationId, "reservation-not-found", "reservation");
        return TypedResults.Ok(ReservationResponse.From(await grains.GetGrain<IReservationGrain>(id).Cancel(http.User.UserId())));
    }

    private static async Task<Ok<SandboxCheckoutResponse>> SandboxCheckout(SandboxCheckoutRequest? body, HttpContext http, IGrainFactory grains)
    {
        body = Require.NotNull(body, "body");
        var reservationId = Require.NotNull(body.ReservationId, "reservationId");
        var view = await Owned(reservationId.ToString(), http, grains);
        if (view.Status != ReservationStatus.PendingPayment)
        {
            throw DomainException.Conflict(ClosedCode(view.Status), "Only a reservation that awaits payment can be paid.");
        }

        if (view.Amount == 0)
        {
            throw DomainException.Conflict("nothing-to-pay",
                "This reservation is free: confirm it with POST /api/reservations/{id}/payment and no payment id.");
        }

        // One sandbox payment per reservation: a retried checkout (a double click) finds the payment it
        // made before instead of charging again.
        var paymentId = Grains.Abstractions.Payments.SandboxCheckout.PaymentIdFor(view.ReservationId);
        var payment = await grains.GetGrain<ISandboxPaymentGrain>(paymentId).Approve(view.ReservationId.ToString(), view.Amount, view.Currency);
        return TypedResults.Ok(new SandboxCheckoutResponse(payment.PaymentId, view.ReservationId, payment.Amount, payment.Currency));
    }

    private static string ClosedCode(ReservationStatus status) => status switch
    {
        ReservationStatus.Confirmed => "reservation-confirmed",
        ReservationStatus.Expired => "reservation-expired",
        _ => "reservation-cancelled",
    };

    private static async Task<ReservationView> Owned(string reservationId, HttpContext http, IGrainFactory grains)
    {
        var id = Require.Id(reservationId, "reservation-not-found", "reservation");
        var view = await grains.GetGrain<IReservationGrain>(id).Get();
        // Another user's reservation is indistinguishable from a missing one.
        return view is not null && view.UserId == http.User.UserId()
            ? view
            : throw DomainException.NotFound("reservation-not-found", "There is no such reservation.");
    }
}
