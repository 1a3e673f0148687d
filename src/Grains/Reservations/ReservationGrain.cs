using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Abstractions.Seats;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Payments;

namespace TicketQueue.Grains.Reservations;

[GenerateSerializer, Alias("tq.ReservationState")]
public sealed class ReservationState
{
    [Id(0)] public ReservationView? View { get; set; }
}

/// <summary>
/// hold seats → await payment → confirmed, or expired/cancelled with the seats released. The seat
/// block is the authority on seats: this grain only sells what the block confirms it still holds.
/// </summary>
public sealed class ReservationGrain(
    [PersistentState("reservation", StorageNames.Reservations)] IPersistentState<ReservationState> state,
    PaymentProviders payments,
    TimeProvider time)
    : Grain, IReservationGrain
{
    private IGrainTimer? _expiryTimer;

    private ReservationView View =>
        state.State.View ?? throw DomainException.NotFound("reservation-not-found", "There is no such reservation.");

    private ISeatBlockGrain SeatBlock => SeatBlocks.For(GrainFactory, View.EventId, View.BlockId);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.View is not null)
        {
            await ExpireIfDue();
            await RefundIfOwed();
            ScheduleExpiry();
        }
    }

    public async Task<ReservationView> Create(ReservationRequest request)
    {
        if (state.State.View is { } existing)
        {
            return existing.UserId == request.UserId && existing.EventId == request.EventId && existing.BlockId == request.BlockId
                ? existing
                : throw DomainException.Conflict("reservation-exists", "This reservation id is taken.");
        }

        var definition = await GrainFactory.GetGrain<IEventCatalogGrain>(EventCatalog.Key).Get(request.EventId)
            ?? throw DomainException.NotFound("event-not-found", $"There is no event '{request.EventId}'.");
        var block = definition.FindBlock(request.BlockId)
            ?? throw DomainException.Invalid("block-not-found", $"Event '{request.EventId}' has no block '{request.BlockId}'.", "blockId");

        var now = time.GetUtcNow();
        var hold = await SeatBlocks.For(GrainFactory, request.EventId, request.BlockId).Hold(new SeatHoldRequest(
            this.GetPrimaryKey(), request.SeatIds, request.Quantity, now + definition.Queue.HoldDuration));

        state.State.View = new ReservationView(
            this.GetPrimaryKey(), request.UserId, request.EventId, request.BlockId, hold.SeatIds,
            Amount: block.Price * hold.SeatIds.Count, definition.Currency, ReservationStatus.PendingPayment,
            CreatedAt: now, ExpiresAt: hold.ExpiresAt, Payment: null, ConfirmedAt: null, ClosedAt: null);
        await state.WriteStateAsync();
        ScheduleExpiry();
        return View;
    }

    public async Task<ReservationView?> Get()
    {
        if (state.State.View is null)
        {
            return null;
        }

        await ExpireIfDue();
        return View;
    }

    public async Task<ReservationView> Pay(PaymentCommand command)
    {
        RequireOwner(command.UserId);
        var provider = payments.Get(command.Provider);
        await ExpireIfDue();

        if (View.Status != ReservationStatus.PendingPayment)
        {
            // Money that arrives for a closed reservation, or a second payment for a confirmed one,
            // goes back: it never buys a seat.
            if (command.PaymentId is not null && command.PaymentId != View.Payment?.PaymentId)
            {
                var extra = await provider.Capture(new PaymentCaptureRequest(View.ReservationId, View.Amount, View.Currency, command.PaymentId));
                await provider.Refund(extra.PaymentId);
                if (View.Status != ReservationStatus.Confirmed && View.Payment is null)
                {
                    await RecordPayment(command.Provider, extra, refunded: true);
                }
            }

            return View.Status == ReservationStatus.Confirmed ? View : throw Closed();
        }

        // Free tickets need no payment. Otherwise one payment per reservation: it is on record before
        // the seats are sold, and a retry after a failure in between reuses it instead of charging again.
        if (View.Amount > 0 && View.Payment is not { Refunded: false })
        {
            var capture = await provider.Capture(new PaymentCaptureRequest(View.ReservationId, View.Amount, View.Currency, command.PaymentId));
            await RecordPayment(command.Provider, capture, refunded: false);
        }
        else if (View.Payment is { } recorded && command.PaymentId is not null && command.PaymentId != recorded.PaymentId)
        {
            var duplicate = await provider.Capture(new PaymentCaptureRequest(View.ReservationId, View.Amount, View.Currency, command.PaymentId));
            await provider.Refund(duplicate.PaymentId);
        }

        var now = time.GetUtcNow();
        if (!await SeatBlock.Confirm(View.ReservationId))
        {
            // The hold ran out while the payment was in flight: close, and refund what was taken.
            state.State.View = View with { Status = ReservationStatus.Expired, ClosedAt = now };
            await state.WriteStateAsync();
            StopExpiryTimer();
            await RefundIfOwed();
            throw Closed();
        }

        state.State.View = View with { Status = ReservationStatus.Confirmed, ConfirmedAt = now };
        await state.WriteStateAsync();
        StopExpiryTimer();
        // A completed purchase ends the shopping session and frees the shopper's slot in the queue.
        await QueueShards.For(GrainFactory, View.EventId, View.UserId).Finish(View.UserId);
        return View;
    }

    public async Task<ReservationView> Cancel(Guid userId)
    {
        RequireOwner(userId);
        await ExpireIfDue();
        switch (View.Status)
        {
            case ReservationStatus.Cancelled:
                return View;
            case ReservationStatus.Expired:
                throw Closed();
        }

        // State first, then the seats, then the money. A crash part-way can leave seats unsold-but-taken
        // (never sold twice) and a refund that the next activation finishes (RefundIfOwed).
        state.State.View = View with { Status = ReservationStatus.Cancelled, ClosedAt = time.GetUtcNow() };
        await state.WriteStateAsync();
        StopExpiryTimer();
        await SeatBlock.Release(View.ReservationId);
        await RefundIfOwed();
        return View;
    }

    private void RequireOwner(Guid userId)
    {
        // Somebody else's reservation looks exactly like a missing one.
        if (state.State.View is null || state.State.View.UserId != userId)
        {
            throw DomainException.NotFound("reservation-not-found", "There is no such reservation.");
        }
    }

    private async Task RecordPayment(string providerName, PaymentCapture capture, bool refunded)
    {
        var now = time.GetUtcNow();
        state.State.View = View with
        {
            Payment = new PaymentInfo(providerName, capture.PaymentId, capture.Amount, refunded, capture.ApprovedAt, refunded ? now : null),
        };
        await state.WriteStateAsync();
    }

    /// <summary>A closed (expired or cancelled) reservation keeps no money: refund a payment still on record.</summary>
    private async Task RefundIfOwed()
    {
        if (View.Status is not (ReservationStatus.Expired or ReservationStatus.Cancelled) || View.Payment is not { Refunded: false } payment)
        {
            return;
        }

        await payments.Get(payment.Provider).Refund(payment.PaymentId);
        state.State.View = View with { Payment = payment with { Refunded = true, RefundedAt = time.GetUtcNow() } };
        await state.WriteStateAsync();
    }

    private async Task ExpireIfDue()
    {
        if (View.Status != ReservationStatus.PendingPayment || time.GetUtcNow() < View.ExpiresAt)
        {
            return;
        }

        state.State.View = View with { Status = ReservationStatus.Expired, ClosedAt = View.ExpiresAt };
        await state.WriteStateAsync();
        StopExpiryTimer();
        // The block already treats the hold as free; releasing just tidies its records.
        await SeatBlock.Release(View.ReservationId);
        await RefundIfOwed();
    }

    private void ScheduleExpiry()
    {
        if (View.Status != ReservationStatus.PendingPayment)
        {
            return;
        }

        var due = View.ExpiresAt - time.GetUtcNow();
        _expiryTimer = this.RegisterGrainTimer(_ => ExpireIfDue(), new GrainTimerCreationOptions
        {
            DueTime = due > TimeSpan.Zero ? due : TimeSpan.Zero,
            Period = TimeSpan.FromSeconds(5),
            KeepAlive = true,
        });
    }

    private void StopExpiryTimer()
    {
        _expiryTimer?.Dispose();
        _expiryTimer = null;
    }

    private DomainException Closed() => new(DomainErrorKind.Conflict, "reservation-" + (View.Status == ReservationStatus.Expired ? "expired" : "cancelled"),
        View.Status == ReservationStatus.Expired
            ? "The seat hold expired before payment; any payment taken has been refunded."
            : "This reservation was cancelled.");
}
