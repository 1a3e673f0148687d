using System.Runtime.ExceptionServices;
using Microsoft.Extensions.Logging;
using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Abstractions.Seats;
using TicketQueue.Grains.DomainEvents;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Payments;

namespace TicketQueue.Grains.Reservations;

[GenerateSerializer, Alias("tq.ReservationState")]
public sealed class ReservationState
{
    [Id(0)] public ReservationView? View { get; set; }

    /// <summary>
    /// Events recorded with the change that caused them (the same write) and not yet handed to the
    /// outbox. Handing them over is idempotent (by event id), so the list may hold events already handed.
    /// </summary>
    [Id(1)] public List<DomainEvent> Outbox { get; set; } = [];

    /// <summary>
    /// The seats of this closed (expired or cancelled) reservation went back to the block. Until then it
    /// is not settled: its reminder keeps trying, so seats are never left taken by a closed reservation.
    /// </summary>
    [Id(2)] public bool SeatsReleased { get; set; }

    /// <summary>
    /// A capture asked of a payment company and not yet on record (<see cref="ReservationView.Payment"/>).
    /// Written before the company is asked: if the answer is lost, the reservation still knows to look
    /// for the money, and gives it back when it closes.
    /// </summary>
    [Id(3)] public PendingCapture? Capturing { get; set; }

    /// <summary>
    /// This closed or confirmed reservation asked every payment company for payments made for it that it
    /// has no record of (a checkout whose payment id never came back, a capture whose answer was lost),
    /// and refunded them, for the last time.
    /// </summary>
    [Id(4)] public bool UnclaimedPaymentsRefunded { get; set; }

    /// <summary>
    /// The confirmed purchase has ended its shopping session in the queue. Written with the next change;
    /// until then a new activation tells the queue again, which changes nothing the second time.
    /// </summary>
    [Id(5)] public bool ShoppingFinished { get; set; }

    /// <summary>
    /// Payments besides the one on record (a second tab's, a checkout's while a capture of ours was lost)
    /// recorded as refunded, their refund announced. A later look that finds one still taken (its refund
    /// failed after the record) gives it back without announcing it again.
    /// </summary>
    [Id(6)] public List<string> ExtraPaymentsRefunded { get; set; } = [];

    /// <summary>
    /// The queue's stamp of the admission this reservation was made in: its purchase ends that session.
    /// The queue's own clock, not this silo's, which may be behind (and make the purchase look older than
    /// the admission). Absent for a reservation opened by a caller of the previous version.
    /// </summary>
    [Id(7)] public DateTimeOffset? AdmittedAt { get; set; }
}

[GenerateSerializer, Immutable, Alias("tq.PendingCapture")]
public sealed record PendingCapture([property: Id(0)] string Provider, [property: Id(1)] string? PaymentId);

/// <summary>
/// hold seats → await payment → confirmed, or expired/cancelled with the seats released. The seat
/// block is the authority on seats: this grain only sells what the block confirms it still holds.
/// </summary>
/// <remarks>
/// Domain events are recorded in the grain's state by the same write as the change, then handed to the
/// outbox. While the reservation is open or has events not yet handed over, a reminder stands: after a
/// crash it wakes the grain, which expires an overdue hold and hands over what it recorded.
/// </remarks>
public sealed class ReservationGrain(
    [PersistentState("reservation", StorageNames.Reservations)] IPersistentState<ReservationState> state,
    PaymentProviders payments,
    IDomainEventOutbox outbox,
    TimeProvider time,
    ILogger<ReservationGrain> logger)
    : Grain, IReservationGrain, IRemindable
{
    private const string WatchReminder = "reservation-watch";

    /// <summary>How long after its close a reservation still looks for checkout payments made for it.</summary>
    public static readonly TimeSpan CheckoutGrace = TimeSpan.FromMinutes(2);

    private IGrainTimer? _expiryTimer;
    private IGrainReminder? _watch;

    // Events handed to the outbox are forgotten in memory, but storage still lists them until the next write.
    private bool _shippedStillStored;

    // Set by a write that failed: this activation is on its way out and writes nothing more.
    private ExceptionDispatchInfo? _writeFailed;

    private ReservationView View =>
        state.State.View ?? throw DomainException.NotFound("reservation-not-found", "There is no such reservation.");

    private ISeatBlockGrain SeatBlock => SeatBlocks.For(GrainFactory, View.EventId, View.BlockId);

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (state.State.View is not null)
        {
            await ExpireIfDue();
            await TryReleaseSeats();
            await TryRefundIfOwed();
            await TryFinishConfirmed();
            ScheduleExpiry();
            await Ship();
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (state.State.View is null)
        {
            // Registered by a Create whose write failed: there is no reservation to watch.
            await Unwatch();
            return;
        }

        await ExpireIfDue();
        await TryReleaseSeats();
        // The watch stands only while something is owed, or was registered by a change whose write failed
        // (a payment it was about to record and refund, say): the look for payments it has no record of is
        // made again even where storage says the last one was made.
        await TryRefundIfOwed(lookAgain: true);
        await TryFinishConfirmed();
        await Ship();
    }

    private Task TryFinishConfirmed() => View.Status == ReservationStatus.Confirmed ? TryFinishShopping() : Task.CompletedTask;

    public async Task<ReservationView> Create(ReservationRequest request)
    {
        if (state.State.View is { } existing)
        {
            if (existing.UserId != request.UserId || existing.EventId != request.EventId || existing.BlockId != request.BlockId)
            {
                throw DomainException.Conflict("reservation-exists", "This reservation id is taken.");
            }

            // A repeated request under the same (derived) id. The user's grain held seats under this id
            // before calling; a reservation that is closed, or closes now, owns no seats, so whatever
            // that hold took goes back.
            await ExpireIfDue();
            if (View.Status is ReservationStatus.Expired or ReservationStatus.Cancelled)
            {
                await SeatBlock.Release(View.ReservationId);
            }

            return View;
        }

        // The user's grain held the seats under this reservation's id; the block will sell them only to it.
        var hold = request.Hold;
        if (hold.HoldId != this.GetPrimaryKey())
        {
            throw DomainException.Invalid("hold-mismatch", "A reservation opens only for the hold made under its own id.");
        }

        var now = time.GetUtcNow();
        state.State.View = new ReservationView(
            this.GetPrimaryKey(), request.UserId, request.EventId, request.BlockId, hold.SeatIds,
            request.Amount, request.Currency, ReservationStatus.PendingPayment,
            CreatedAt: now, ExpiresAt: hold.ExpiresAt, Payment: null, ConfirmedAt: null, ClosedAt: null);
        state.State.AdmittedAt = request.AdmittedAt;
        await Save(new SeatsHeld
        {
            EventId = Guid.NewGuid(), OccurredAt = now, ReservationId = View.ReservationId, UserId = View.UserId,
            TicketedEventId = View.EventId, BlockId = View.BlockId, Seats = View.Seats, Amount = View.Amount,
            Currency = View.Currency, ExpiresAt = View.ExpiresAt,
        });
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
            // One already refunded (by this reservation's sweep, say, before a second tab came back with it)
            // holds no money: the answer is the reservation's, as for any other tab.
            if (command.PaymentId is not null && command.PaymentId != View.Payment?.PaymentId
                && await CaptureUnlessRefunded(provider, command.PaymentId) is { } extra)
            {
                await RefundUnrecorded(provider, extra, "payment-after-close");
            }

            if (View.Status != ReservationStatus.Confirmed)
            {
                throw Closed();
            }

            // A retry finishes what a failure after the sale left undone (idempotent at the shard).
            await TryFinishShopping();
            return View;
        }

        // Free tickets need no payment. Otherwise one payment per reservation: it is on record before
        // the seats are sold, and a retry after a failure in between reuses it instead of charging again.
        if (View.Amount > 0 && View.Payment is not { Refunded: false })
        {
            state.State.Capturing = new PendingCapture(command.Provider, command.PaymentId);
            await Save();
            var capture = await provider.Capture(new PaymentCaptureRequest(View.ReservationId, View.Amount, View.Currency, command.PaymentId));
            state.State.Capturing = null;
            await RecordPayment(command.Provider, capture);
        }
        else if (View.Payment is { } recorded && command.PaymentId is not null && command.PaymentId != recorded.PaymentId
                 && await CaptureUnlessRefunded(provider, command.PaymentId) is { } duplicate)
        {
            // (One already refunded, by an earlier try of this same call, holds no money: the recorded payment pays.)
            await RefundUnrecorded(provider, duplicate, "duplicate-payment");
        }

        var now = time.GetUtcNow();
        if (!await SeatBlock.Confirm(View.ReservationId, View.Seats))
        {
            // The hold ran out while the payment was in flight: close, and refund what was taken.
            state.State.View = View with { Status = ReservationStatus.Expired, ClosedAt = now };
            await Save(new HoldExpired { EventId = Guid.NewGuid(), OccurredAt = now, ReservationId = View.ReservationId, UserId = View.UserId, TicketedEventId = View.EventId, Seats = View.Seats });
            StopExpiryTimer();
            // Usually there is nothing left to free; but if the id was held again (other seats), those go back.
            await ReleaseSeats();
            await RefundIfOwed();
            throw Closed();
        }

        state.State.View = View with { Status = ReservationStatus.Confirmed, ConfirmedAt = now };
        await Save(new ReservationConfirmed
        {
            EventId = Guid.NewGuid(), OccurredAt = now, ReservationId = View.ReservationId, UserId = View.UserId,
            TicketedEventId = View.EventId, Seats = View.Seats, Amount = View.Amount, Currency = View.Currency,
        });
        StopExpiryTimer();
        await TryFinishShopping();
        // A payment this reservation has no record of (made at the checkout while a capture's answer was
        // lost, or in a second tab) goes back; the reminder looks again until the checkout grace is over.
        await TryRefundIfOwed();
        return View;
    }

    private async Task<PaymentCapture?> CaptureUnlessRefunded(IPaymentProvider provider, string paymentId)
    {
        try
        {
            return await provider.Capture(new PaymentCaptureRequest(View.ReservationId, View.Amount, View.Currency, paymentId));
        }
        catch (DomainException e) when (e.Code == PaymentProblems.Refunded)
        {
            return null;
        }
    }

    public async Task<ReservationView> Cancel(Guid userId)
    {
        RequireOwner(userId);
        await ExpireIfDue();
        switch (View.Status)
        {
            case ReservationStatus.Cancelled:
                // A retry finishes what a failure part-way left undone.
                await ReleaseSeats();
                await RefundIfOwed();
                return View;
            case ReservationStatus.Expired:
                throw Closed();
        }

        // State first, then the seats, then the money. A crash part-way can leave seats unsold-but-taken
        // (never sold twice) and a refund that the next activation finishes (RefundIfOwed).
        var wasConfirmed = View.Status == ReservationStatus.Confirmed;
        state.State.View = View with { Status = ReservationStatus.Cancelled, ClosedAt = time.GetUtcNow() };
        await Save(new ReservationCancelled
        {
            EventId = Guid.NewGuid(), OccurredAt = View.ClosedAt!.Value, ReservationId = View.ReservationId, UserId = View.UserId,
            TicketedEventId = View.EventId, Seats = View.Seats, WasConfirmed = wasConfirmed,
        });
        StopExpiryTimer();
        await ReleaseSeats();
        await RefundIfOwed();
        return View;
    }

    /// <summary>
    /// A completed purchase ends the shopping session it was made in and frees the shopper's slot in the
    /// queue. The sale is durable before this: if the queue cannot be told now (its shard unreachable, or
    /// on a silo of the previous version during an upgrade), the buyer still gets the confirmation, and
    /// each wake-up tells it again until it is told. The reservation is not settled before.
    /// </summary>
    private async Task TryFinishShopping()
    {
        if (state.State.ShoppingFinished)
        {
            return;
        }

        try
        {
            await QueueShards.For(GrainFactory, View.EventId, View.UserId).FinishPurchase(View.UserId, state.State.AdmittedAt ?? View.CreatedAt);
            state.State.ShoppingFinished = true;
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Ending the shopping session of reservation {ReservationId} failed; the reminder retries", this.GetPrimaryKey());
        }
    }

    private void RequireOwner(Guid userId)
    {
        // Somebody else's reservation looks exactly like a missing one.
        if (state.State.View is null || state.State.View.UserId != userId)
        {
            throw DomainException.NotFound("reservation-not-found", "There is no such reservation.");
        }
    }

    /// <summary>Puts a payment on record, refunded already when <paramref name="refundedBecause"/> says why.</summary>
    private async Task RecordPayment(string providerName, PaymentCapture capture, string? refundedBecause = null)
    {
        var refunded = refundedBecause is not null;
        var now = time.GetUtcNow();
        state.State.View = View with
        {
            Payment = new PaymentInfo(providerName, capture.PaymentId, capture.Amount, refunded, capture.ApprovedAt, refunded ? now : null),
        };
        await Save(refunded
            ? [Approved(providerName, capture), Refunded(providerName, capture.PaymentId, capture.Amount, refundedBecause!)]
            : [Approved(providerName, capture)]);
    }

    // Why a reservation gives money back.
    private string RefundReason => View.Status switch
    {
        ReservationStatus.Cancelled => "reservation-cancelled",
        ReservationStatus.Confirmed => "duplicate-payment",
        _ => "hold-expired",
    };

    /// <summary>
    /// A closed (expired or cancelled) reservation keeps no money: refund a payment still on record. A
    /// confirmed one keeps the payment on record and no other.
    /// </summary>
    private async Task RefundIfOwed(bool lookAgain = false)
    {
        // After a failed write this activation holds records storage does not: money given back on their
        // strength would go unannounced.
        _writeFailed?.Throw();
        if (View.Status == ReservationStatus.Confirmed)
        {
            await RefundUnclaimedPayments(lookAgain);
            return;
        }

        if (View.Status is not (ReservationStatus.Expired or ReservationStatus.Cancelled))
        {
            return;
        }

        await RefundLostCapture();
        await RefundUnclaimedPayments(lookAgain);
        if (View.Payment is not { Refunded: false } payment)
        {
            return;
        }

        await payments.Get(payment.Provider).Refund(payment.PaymentId);
        state.State.View = View with { Payment = payment with { Refunded = true, RefundedAt = time.GetUtcNow() } };
        await Save(Refunded(payment.Provider, payment.PaymentId, payment.Amount, RefundReason));
    }

    /// <summary>
    /// A capture whose answer never reached this grain (a crash, a failed write, a timeout) may still
    /// have taken the money: a closed reservation asks the company and refunds what it finds.
    /// </summary>
    private async Task RefundLostCapture()
    {
        if (state.State.Capturing is not { } pending)
        {
            return;
        }

        var provider = payments.Get(pending.Provider);
        var found = await provider.Find(View.ReservationId, pending.PaymentId);
        if (found is not null && found.PaymentId != View.Payment?.PaymentId)
        {
            state.State.Capturing = null;
            await RefundUnrecorded(provider, found, RefundReason);
            return;
        }

        state.State.Capturing = null;
        await Save();
    }

    /// <summary>
    /// A payment this reservation will not keep and has no record of (brought to it after its close or
    /// besides the one it has, or found by a wake-up's look): both facts recorded, then the money given
    /// back. In that order: once refunded, the company no longer lists the payment, so a refund whose
    /// record failed would be announced by no one. A record whose refund failed is found again, still
    /// taken, by the next look, and given back without a second announcement; until then the
    /// reservation is not settled, so its reminder keeps looking, after the checkout grace too.
    /// </summary>
    private async Task RefundUnrecorded(IPaymentProvider provider, PaymentCapture found, string reason)
    {
        _writeFailed?.Throw();
        if (!state.State.ExtraPaymentsRefunded.Contains(found.PaymentId))
        {
            state.State.UnclaimedPaymentsRefunded = false;
            if (View.Payment is null)
            {
                await RecordPayment(provider.Name, found, refundedBecause: reason);
            }
            else
            {
                state.State.ExtraPaymentsRefunded.Add(found.PaymentId);
                await Save(Approved(provider.Name, found), Refunded(provider.Name, found.PaymentId, found.Amount, reason));
            }
        }

        await provider.Refund(found.PaymentId);
    }

    /// <summary>
    /// A buyer may pay at the company's checkout and never come back with the payment id (a closed tab),
    /// or pay there while a capture of ours took the money too (its answer lost to a failed write, so a
    /// retry confirmed with the checkout's payment). Once closed or confirmed, the reservation asks each
    /// company for the payments made for it and refunds those it has no record of. It asks again on each
    /// wake-up until <see cref="CheckoutGrace"/> after the close or confirmation: a checkout that began
    /// while the reservation was open may complete just after the first look.
    /// </summary>
    private async Task RefundUnclaimedPayments(bool lookAgain)
    {
        if (state.State.UnclaimedPaymentsRefunded && !lookAgain)
        {
            return;
        }

        var lastLook = time.GetUtcNow() >= (View.ClosedAt ?? View.ConfirmedAt ?? View.ExpiresAt) + CheckoutGrace;

        foreach (var provider in payments.All)
        {
            foreach (var found in await provider.PaymentsFor(View.ReservationId))
            {
                if (found.PaymentId == View.Payment?.PaymentId)
                {
                    // On record: RefundIfOwed gives it back. Recorded as refunded yet still taken, its refund
                    // failed after the record (RefundUnrecorded): given back now, announced already.
                    if (View.Payment.Refunded)
                    {
                        await provider.Refund(found.PaymentId);
                    }

                    continue;
                }

                await RefundUnrecorded(provider, found, RefundReason);
            }
        }

        if (lastLook && !state.State.UnclaimedPaymentsRefunded)
        {
            state.State.UnclaimedPaymentsRefunded = true;
            await Save();
        }
    }

    private async Task ExpireIfDue()
    {
        if (View.Status != ReservationStatus.PendingPayment || time.GetUtcNow() < View.ExpiresAt)
        {
            return;
        }

        state.State.View = View with { Status = ReservationStatus.Expired, ClosedAt = View.ExpiresAt };
        await Save(new HoldExpired
        {
            EventId = Guid.NewGuid(), OccurredAt = View.ExpiresAt, ReservationId = View.ReservationId, UserId = View.UserId,
            TicketedEventId = View.EventId, Seats = View.Seats,
        });
        StopExpiryTimer();
        // The block already treats the hold as free; releasing just tidies its records.
        await ReleaseSeats();
        await RefundIfOwed();
    }

    /// <summary>Gives a closed reservation's seats back to the block, once it has closed and until that is recorded.</summary>
    private async Task ReleaseSeats()
    {
        if (View.Status is not (ReservationStatus.Expired or ReservationStatus.Cancelled) || state.State.SeatsReleased)
        {
            return;
        }

        await SeatBlock.Release(View.ReservationId);
        state.State.SeatsReleased = true;
        await Save();
    }

    // On activation and from the reminder: a payment company out of reach must not make the reservation
    // unreadable; the reminder tries again.
    private async Task TryRefundIfOwed(bool lookAgain = false)
    {
        try
        {
            await RefundIfOwed(lookAgain);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Refunding what reservation {ReservationId} should not keep failed; the reminder retries", this.GetPrimaryKey());
        }
    }

    // On activation and from the reminder: a failure is retried at the next reminder.
    private async Task TryReleaseSeats()
    {
        try
        {
            await ReleaseSeats();
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Releasing the seats of closed reservation {ReservationId} failed; the reminder retries", this.GetPrimaryKey());
        }
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

    /// <summary>Writes the state with the events the change caused (one write), then hands the events over.</summary>
    private async Task Save(params DomainEvent[] events)
    {
        // After a failed write this activation's state is not the stored one (the change stays in memory),
        // so nothing more is written or shipped from it: a later write would store that change without
        // the events it dropped. The caller retries against the next activation.
        _writeFailed?.Throw();
        var recorded = state.State.Outbox.Count;
        state.State.Outbox.AddRange(events);
        try
        {
            await Watch();
            // A failed write: what this activation holds is not what is stored, so it goes.
            await this.WriteOrLeave(state);
        }
        catch (Exception e)
        {
            // Events of a change that was not stored must not be shipped by what this activation does
            // before it goes (a swallowed failure on activation is followed by Ship). Had the write landed
            // with its answer lost, they are in the stored outbox, and the next activation ships them.
            state.State.Outbox.RemoveRange(recorded, events.Length);
            _writeFailed = ExceptionDispatchInfo.Capture(e);
            throw;
        }

        await Ship();
    }

    /// <summary>
    /// Hands recorded events to the outbox. If that fails (the database is away), they stay recorded and
    /// the reminder tries again; the caller's change is durable either way.
    /// </summary>
    private async Task Ship()
    {
        if (_writeFailed is not null)
        {
            // Leaving: the next activation, from what is stored, ships and settles.
            return;
        }

        if (state.State.Outbox.Count > 0)
        {
            try
            {
                await outbox.Append([.. state.State.Outbox], CancellationToken.None);
                // Forgotten in memory now, in storage with the next write; handing them over again after a
                // crash is harmless.
                state.State.Outbox.Clear();
                _shippedStillStored = true;
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "Handing {Count} events of reservation {ReservationId} to the outbox failed; the reminder retries",
                    state.State.Outbox.Count, this.GetPrimaryKey());
                return;
            }
        }

        // Settled: nothing more can happen by itself (no hold to expire, no refund owed).
        var settled = (View.Status == ReservationStatus.Confirmed && state.State.UnclaimedPaymentsRefunded && state.State.ShoppingFinished)
            || (View.Status is ReservationStatus.Expired or ReservationStatus.Cancelled
                && View.Payment is not { Refunded: false } && state.State.SeatsReleased && state.State.Capturing is null
                && state.State.UnclaimedPaymentsRefunded);
        if (settled)
        {
            if (_shippedStillStored)
            {
                // A settled reservation is not written again: without this write, every later activation
                // would hand the stored events over again, and once the outbox has pruned the published
                // ones (TicketQueue:Events:RetainPublished) Kafka would get them a second time.
                try
                {
                    await this.WriteOrLeave(state);
                    _shippedStillStored = false;
                }
                catch (Exception e)
                {
                    logger.LogWarning(e, "Clearing the shipped events of reservation {ReservationId} failed; the reminder retries", this.GetPrimaryKey());
                    return;
                }
            }

            await Unwatch();
        }
    }

    // The reminder that wakes this grain after a crash while it is open or has events to hand over. A
    // reminder table out of reach (Redis restarting) does not block the change: the grain still hands
    // its events over itself, only the crash-in-between case waits for the grain's next activation.
    private async Task Watch()
    {
        if (_watch is not null)
        {
            return;
        }

        try
        {
            _watch = await this.RegisterOrUpdateReminder(WatchReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        }
        catch (Exception e) when (e is not DomainException)
        {
            logger.LogWarning(e, "The watch reminder of reservation {ReservationId} could not be registered", this.GetPrimaryKey());
        }
    }

    private async Task Unwatch()
    {
        try
        {
            _watch ??= await this.GetReminder(WatchReminder);
            if (_watch is not null)
            {
                await this.UnregisterReminder(_watch);
                _watch = null;
            }
        }
        catch (Exception e) when (e is not DomainException)
        {
            logger.LogWarning(e, "The watch reminder of reservation {ReservationId} could not be removed; it will try again when it fires", this.GetPrimaryKey());
        }
    }

    private PaymentApproved Approved(string provider, PaymentCapture capture) => new()
    {
        EventId = Guid.NewGuid(), OccurredAt = capture.ApprovedAt, Provider = provider, PaymentId = capture.PaymentId,
        ReservationId = View.ReservationId, Amount = capture.Amount, Currency = View.Currency,
    };

    private PaymentRefunded Refunded(string provider, string paymentId, decimal amount, string reason) => new()
    {
        EventId = Guid.NewGuid(), OccurredAt = time.GetUtcNow(), Provider = provider, PaymentId = paymentId,
        ReservationId = View.ReservationId, Amount = amount, Currency = View.Currency, Reason = reason,
    };

    private DomainException Closed() => new(DomainErrorKind.Conflict, "reservation-" + (View.Status == ReservationStatus.Expired ? "expired" : "cancelled"),
        View.Status == ReservationStatus.Expired
            ? "The seat hold expired before payment; any payment taken has been refunded."
            : "This reservation was cancelled.");
}
