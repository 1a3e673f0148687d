using TicketQueue.Grains.Abstractions.Payments;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Abstractions.Seats;
using TicketQueue.Grains.Reservations;

namespace TicketQueue.Grains.Tests.Reservations;

/// <summary>How a purchase ends a shopping session, and the money rules around repeated payments.</summary>
[Collection(ClusterCollection.Name)]
public sealed class PurchaseSessionTests(ClusterFixture fixture)
{
    private IUserReservationsGrain User(Guid userId) => fixture.Grains.GetGrain<IUserReservationsGrain>(userId);

    private IReservationGrain Reservation(Guid reservationId) => fixture.Grains.GetGrain<IReservationGrain>(reservationId);

    private async Task<(EventDefinition Definition, Guid UserId)> AdmittedShopper()
    {
        var definition = await fixture.CreateEvent(TestEvents.Settings(admissionsPerMinute: 60));
        var userId = Guid.NewGuid();
        var shard = QueueShards.For(fixture.Grains, definition.EventId, userId);
        await shard.Join(userId);
        fixture.Clock.Advance(TimeSpan.FromSeconds(2));
        var status = await ClusterFixture.Eventually(() => shard.Claim(userId), s => s?.Status == QueueStatusKind.Admitted);
        Assert.Equal(QueueStatusKind.Admitted, status?.Status);
        return (definition, userId);
    }

    [Fact]
    public async Task A_completed_purchase_ends_the_shopping_session()
    {
        var (definition, userId) = await AdmittedShopper();
        var shard = QueueShards.For(fixture.Grains, definition.EventId, userId);
        var queue = fixture.Grains.GetGrain<IEventQueueGrain>(definition.EventId);
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null).Reserved();
        Assert.Equal(1, (await queue.GetStats()).ActiveShoppers);

        await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));

        // The admission no longer lets them shop (a second purchase would be outside the bound) ...
        Assert.Equal(QueueStatusKind.Expired, (await shard.Claim(userId))!.Status);
        Assert.Equal(0, (await queue.GetStats()).ActiveShoppers);
        // ... and joining again starts a new place at the back.
        var again = await shard.Join(userId);
        Assert.Equal(QueueStatusKind.Waiting, again.Status);
        Assert.True(again.TicketNumber > 1);
    }

    [Fact]
    public async Task A_purchase_the_queue_cannot_be_told_of_is_confirmed_and_ends_the_session_once_the_queue_answers()
    {
        var (definition, userId) = await AdmittedShopper();
        var shard = QueueShards.For(fixture.Grains, definition.EventId, userId);
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null).Reserved();

        // The user's queue shard cannot save (its database is away, or it is on a silo not yet upgraded).
        fixture.QueueRecords.FailSaves(definition.EventId, true);
        ReservationView paid;
        try
        {
            // Before, the buyer was told the payment failed although the seats were sold and the money taken.
            paid = await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));
            // The shard goes with the change it could not save, as a crash would take it.
            await fixture.Cluster.DeactivateAsync(shard);
        }
        finally
        {
            fixture.QueueRecords.FailSaves(definition.EventId, false);
        }

        Assert.Equal(ReservationStatus.Confirmed, paid.Status);
        Assert.Equal(1, (await Block(definition).GetCounts()).Sold);

        // The next wake-up tells the queue: the session ends as a purchase ends it.
        await fixture.Cluster.DeactivateAsync(Reservation(created.ReservationId));
        await Reservation(created.ReservationId).Get();
        Assert.Equal(QueueStatusKind.Expired, (await shard.Claim(userId))!.Status);
    }

    [Fact]
    public async Task A_purchase_names_its_admission_by_the_queues_own_stamp_not_the_reservations_clock()
    {
        var (definition, userId) = await AdmittedShopper();
        var shard = QueueShards.For(fixture.Grains, definition.EventId, userId);
        var admission = (await shard.Claim(userId))!;
        fixture.Clock.Advance(TimeSpan.FromSeconds(7));
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null, admission.AdmittedAt).Reserved();

        await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));

        // The shard compares the purchase's admission with the admission it holds. Before, it was given the
        // reservation's creation time from the reservation's silo: a silo whose clock ran behind the
        // queue's made a purchase of this admission look older than it, and the slot stayed taken until
        // the session ran out.
        var told = fixture.Calls.LastArguments(nameof(IQueueShardGrain.FinishPurchase), userId);
        Assert.NotNull(told);
        Assert.Equal(admission.AdmittedAt, told[1]);
        Assert.NotEqual(created.CreatedAt, told[1]);
        Assert.Equal(QueueStatusKind.Expired, (await shard.Claim(userId))!.Status);
    }

    private ISeatBlockGrain Block(EventDefinition definition) => SeatBlocks.For(fixture.Grains, definition.EventId, TestEvents.BlockId);

    [Fact]
    public async Task Cancelling_a_pending_hold_keeps_the_shopping_session()
    {
        var (definition, userId) = await AdmittedShopper();
        var shard = QueueShards.For(fixture.Grains, definition.EventId, userId);
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, null).Reserved();

        await Reservation(created.ReservationId).Cancel(userId);

        Assert.Equal(QueueStatusKind.Admitted, (await shard.Claim(userId))!.Status);
        var second = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, null).Reserved();
        Assert.Equal(ReservationStatus.PendingPayment, second.Status);
    }

    [Fact]
    public async Task A_second_payment_for_a_confirmed_reservation_is_refunded()
    {
        var definition = await fixture.CreateEvent();
        var userId = Guid.NewGuid();
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null).Reserved();
        var reservation = Reservation(created.ReservationId);
        var paid = await reservation.Pay(new PaymentCommand(userId, "sandbox", null));
        var duplicateId = $"dup-{Guid.NewGuid():N}";
        await fixture.Grains.GetGrain<ISandboxPaymentGrain>(duplicateId).Approve(created.ReservationId.ToString(), created.Amount, created.Currency);

        var again = await reservation.Pay(new PaymentCommand(userId, "sandbox", duplicateId));

        Assert.Equal(ReservationStatus.Confirmed, again.Status);
        Assert.Equal(paid.Payment!.PaymentId, again.Payment!.PaymentId);
        Assert.Equal(SandboxPaymentStatus.Refunded, (await fixture.Grains.GetGrain<ISandboxPaymentGrain>(duplicateId).Get())!.Status);
        Assert.Equal(SandboxPaymentStatus.Approved, (await fixture.Grains.GetGrain<ISandboxPaymentGrain>(paid.Payment.PaymentId).Get())!.Status);
    }

    [Fact]
    public async Task Idempotency_keys_are_forgotten_oldest_first()
    {
        var definition = await fixture.CreateEvent(ticketLimitPerUser: 1);
        var userId = Guid.NewGuid();
        var ids = new List<Guid>();
        // 201 keys: one more than are kept. Each purchase is cancelled so the limit of 1 allows the next.
        for (var i = 0; i <= 200; i++)
        {
            var view = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, $"key-{i}").Reserved();
            ids.Add(view.ReservationId);
            await Reservation(view.ReservationId).Cancel(userId);
        }

        Assert.Equal(ids[200], (await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, "key-200").Reserved()).ReservationId);
        Assert.Equal(ids[199], (await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, "key-199").Reserved()).ReservationId);
        Assert.Equal(ids[1], (await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, "key-1").Reserved()).ReservationId);

        // key-0 was forgotten, but its reservation's id comes from the user, the key and the request, so
        // the same request still reaches it. Remembering key-0 again pushes out key-1, the oldest kept.
        var again = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, "key-0").Reserved();
        Assert.Equal(ids[0], again.ReservationId);
        Assert.Equal(ReservationStatus.Cancelled, again.Status);
        // The user's grain asks the seat block first; a reservation that turns out closed gives that hold back.
        Assert.Equal(0, (await SeatBlocks.For(fixture.Grains, definition.EventId, TestEvents.BlockId).GetCounts()).Held);

        // What forgetting costs: a different request under a forgotten key is a new reservation, while a
        // kept key still refuses one.
        string[] otherRequest = [TestEvents.SeatId(0, 1)];
        var refused = await Assert.ThrowsAsync<DomainException>(() =>
            User(userId).Reserve(definition.EventId, TestEvents.BlockId, otherRequest, null, "key-2").Reserved());
        Assert.Equal("idempotency-key-reused", refused.Code);
        var reused = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, otherRequest, null, "key-1").Reserved();
        Assert.DoesNotContain(reused.ReservationId, ids);
        Assert.Equal(ReservationStatus.PendingPayment, reused.Status);
    }

    [Fact]
    public async Task A_users_history_keeps_the_newest_reservations_and_every_open_one()
    {
        var definition = await fixture.CreateEvent(ticketLimitPerUser: 2);
        var userId = Guid.NewGuid();
        var open = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null).Reserved();
        var cancelled = new List<Guid>();
        for (var i = 0; i < 120; i++)
        {
            var view = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null).Reserved();
            await Reservation(view.ReservationId).Cancel(userId);
            cancelled.Add(view.ReservationId);
        }

        var history = (await User(userId).List()).Select(v => v.ReservationId).ToHashSet();

        // 121 made, 100 kept: the open one, then the newest closed ones; the 21 oldest closed are forgotten.
        Assert.Equal(UserReservationsGrain.HistoryKept, history.Count);
        Assert.Contains(open.ReservationId, history);
        Assert.Subset(history, cancelled.TakeLast(UserReservationsGrain.HistoryKept - 1).ToHashSet());
        Assert.Empty(cancelled.Take(cancelled.Count - (UserReservationsGrain.HistoryKept - 1)).Intersect(history));
        // The open reservation still counts toward the limit of 2.
        var refused = await Assert.ThrowsAsync<DomainException>(() => User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, null).Reserved());
        Assert.Equal("ticket-limit-exceeded", refused.Code);
    }
}
