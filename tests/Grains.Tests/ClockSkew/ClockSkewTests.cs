using TicketQueue.Grains.Abstractions.Payments;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Abstractions.Seats;
using static TicketQueue.Grains.Tests.ClockSkew.SkewedClusterFixture;

namespace TicketQueue.Grains.Tests.ClockSkew;

/// <summary>
/// Silos whose clocks disagree by minutes (NTP keeps real ones within milliseconds, but every
/// decision below turns on the same comparison either way). Each decision must be made on one clock:
/// the queue's for claim windows and sessions, the seat block's for holds.
/// </summary>
[Collection(SkewedClusterCollection.Name)]
public sealed class ClockSkewTests
{
    private static readonly TimeSpan ClaimWindow = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan HoldDuration = TimeSpan.FromMinutes(5);

    private readonly SkewedClusterFixture _fixture;

    public ClockSkewTests(SkewedClusterFixture fixture)
    {
        _fixture = fixture;
        // Each test says where its grains run; grains of earlier tests stay where they are.
        fixture.Pins.Clear();
    }

    private IGrainFactory Grains => _fixture.Grains;

    /// <summary>Puts every queue grain, queue shard, reservation and user's list activated from now on where the test says.</summary>
    private void Place(int queues, int shards, int reservations = OnTime, int seatBlocks = OnTime)
    {
        _fixture.Pins.PinAllLike(Grains.GetGrain<IEventQueueGrain>("sample"), queues);
        _fixture.Pins.PinAllLike(QueueShards.For(Grains, "sample", Guid.Empty), shards);
        _fixture.Pins.PinAllLike(Grains.GetGrain<IReservationGrain>(Guid.Empty), reservations);
        _fixture.Pins.PinAllLike(Grains.GetGrain<IUserReservationsGrain>(Guid.Empty), reservations);
        _fixture.Pins.PinAllLike(SeatBlocks.For(Grains, "sample", TestEvents.BlockId), seatBlocks);
    }

    // On sale for every silo's clock: the one behind reads the opening ten minutes ago less the skew.
    private Task<EventDefinition> NewEvent(TimeSpan? holdDuration = null) => _fixture.CreateEvent(
        TestEvents.Settings(admissionsPerMinute: 60, claimWindow: ClaimWindow, holdDuration: holdDuration ?? HoldDuration),
        salesOpenIn: TimeSpan.FromMinutes(-10));

    /// <summary>Joins a new user and moves the clock until the queue admits them (without claiming).</summary>
    private async Task<(Guid UserId, IQueueShardGrain Shard, QueueStatus Admitted)> JoinAndAdmit(string eventId)
    {
        var userId = Guid.NewGuid();
        var shard = QueueShards.For(Grains, eventId, userId);
        await shard.Join(userId);
        _fixture.Clock.Advance(TimeSpan.FromSeconds(2));
        var admitted = await ClusterFixture.Eventually(async () => (await shard.GetStatus(userId))!, s => s.Status == QueueStatusKind.Admitted);
        Assert.Equal(QueueStatusKind.Admitted, admitted.Status);
        return (userId, shard, admitted);
    }

    private void AssertPlacedOn(int silo, IAddressable grain) => Assert.Equal(silo, _fixture.Pins.PlacedOn(grain));

    /// <summary>A new event whose queue runs on <paramref name="queueOn"/> and a user admitted through a shard on <paramref name="shardOn"/>.</summary>
    private async Task<(IEventQueueGrain Queue, Guid UserId, IQueueShardGrain Shard, QueueStatus Admitted)> AdmittedAcross(int queueOn, int shardOn)
    {
        Place(queues: queueOn, shards: shardOn);
        var definition = await NewEvent();
        var queue = Grains.GetGrain<IEventQueueGrain>(definition.EventId);
        var (userId, shard, admitted) = await JoinAndAdmit(definition.EventId);
        AssertPlacedOn(queueOn, queue);
        AssertPlacedOn(shardOn, shard);
        return (queue, userId, shard, admitted);
    }

    [Fact]
    public async Task A_no_show_whose_shard_runs_behind_the_queue_cannot_claim_after_the_queues_window_closed()
    {
        var (queue, userId, shard, admitted) = await AdmittedAcross(queueOn: OnTime, shardOn: Behind);

        // Past the window on the queue's clock; the shard's clock has not even reached the admission.
        _fixture.Clock.Advance(ClaimWindow + TimeSpan.FromSeconds(1));
        var late = await shard.Claim(userId);

        // The slot went to the next in line when the queue's window closed: counting this claim would
        // put a shopper above the limit.
        Assert.Equal(QueueStatusKind.Expired, late!.Status);
        Assert.Equal(0, (await queue.GetStats()).ActiveShoppers);
        var again = await shard.Join(userId);
        Assert.Equal(QueueStatusKind.Waiting, again.Status);
        Assert.True(again.TicketNumber > admitted.TicketNumber);
    }

    [Fact]
    public async Task A_shopper_whose_shard_runs_ahead_of_the_queue_claims_inside_the_queues_window()
    {
        var (queue, userId, shard, admitted) = await AdmittedAcross(queueOn: Behind, shardOn: OnTime);
        // The admission is stamped by the queue's clock, the skew behind this one's.
        Assert.InRange(_fixture.Clock.GetUtcNow() - Skew - admitted.AdmittedAt!.Value, TimeSpan.Zero, TimeSpan.FromSeconds(2));

        // A minute into the queue's window; by the shard's clock the window closed two minutes ago.
        _fixture.Clock.Advance(TimeSpan.FromMinutes(1));
        var claimed = await shard.Claim(userId);

        Assert.Equal(QueueStatusKind.Admitted, claimed!.Status);
        Assert.Equal(1, (await queue.GetStats()).ActiveShoppers);
        Assert.Equal(QueueStatusKind.Admitted, (await shard.GetStatus(userId))!.Status);
    }

    [Fact]
    public async Task A_purchase_made_on_a_silo_behind_the_queue_ends_the_session_it_was_made_in()
    {
        Place(queues: OnTime, shards: OnTime, reservations: Behind);
        var definition = await NewEvent();
        var queue = Grains.GetGrain<IEventQueueGrain>(definition.EventId);
        var (userId, shard, _) = await JoinAndAdmit(definition.EventId);
        var admission = (await shard.Claim(userId))!;
        Assert.Equal(1, (await queue.GetStats()).ActiveShoppers);

        var reserved = await Grains.GetGrain<IUserReservationsGrain>(userId)
            .Reserve(definition.EventId, TestEvents.BlockId, null, 1, null, admission.AdmittedAt).Reserved();
        var reservation = Grains.GetGrain<IReservationGrain>(reserved.ReservationId);
        AssertPlacedOn(Behind, reservation);
        // The reservation was made, by its own clock, before the admission it was made in.
        Assert.True(reserved.CreatedAt < admission.AdmittedAt);
        var paid = await reservation.Pay(new PaymentCommand(userId, "sandbox", null));

        Assert.Equal(ReservationStatus.Confirmed, paid.Status);
        Assert.Equal(QueueStatusKind.Expired, (await shard.Claim(userId))!.Status);
        Assert.Equal(0, (await queue.GetStats()).ActiveShoppers);
    }

    [Fact]
    public async Task A_hold_lasts_the_events_hold_duration_on_the_seat_blocks_clock_whichever_silo_asks_for_it()
    {
        // Asked from a silo behind the block by more than the hold lasts: on the asker's reckoning the
        // hold would have expired before it was made, and been refused.
        var shortHold = TimeSpan.FromMinutes(2);
        Place(queues: OnTime, shards: OnTime, reservations: Behind, seatBlocks: OnTime);
        var fromBehind = await NewEvent(shortHold);
        var askerBehind = Guid.NewGuid();
        var heldFromBehind = await Grains.GetGrain<IUserReservationsGrain>(askerBehind)
            .Reserve(fromBehind.EventId, TestEvents.BlockId, null, 1, null).Reserved();
        AssertPlacedOn(Behind, Grains.GetGrain<IUserReservationsGrain>(askerBehind));
        AssertPlacedOn(Behind, Grains.GetGrain<IReservationGrain>(heldFromBehind.ReservationId));
        AssertPlacedOn(OnTime, SeatBlocks.For(Grains, fromBehind.EventId, TestEvents.BlockId));

        // Asked from a silo ahead of the block: it would have lasted the skew longer.
        Place(queues: OnTime, shards: OnTime, reservations: OnTime, seatBlocks: Behind);
        var fromAhead = await NewEvent();
        var askerAhead = Guid.NewGuid();
        var heldFromAhead = await Grains.GetGrain<IUserReservationsGrain>(askerAhead)
            .Reserve(fromAhead.EventId, TestEvents.BlockId, null, 1, null).Reserved();
        AssertPlacedOn(OnTime, Grains.GetGrain<IUserReservationsGrain>(askerAhead));
        AssertPlacedOn(Behind, SeatBlocks.For(Grains, fromAhead.EventId, TestEvents.BlockId));

        Assert.Equal(_fixture.Clock.GetUtcNow() + shortHold, heldFromBehind.ExpiresAt);
        Assert.Equal(_fixture.Clock.GetUtcNow() - Skew + HoldDuration, heldFromAhead.ExpiresAt);
        // The seats are held until then by the block's own reckoning, and free after it.
        var block = SeatBlocks.For(Grains, fromBehind.EventId, TestEvents.BlockId);
        _fixture.Clock.Advance(shortHold - TimeSpan.FromSeconds(1));
        Assert.Equal(1, (await block.GetCounts()).Held);
        _fixture.Clock.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, (await block.GetCounts()).Held);
    }

    [Fact]
    public async Task A_hold_the_seat_block_let_lapse_is_never_sold_though_its_reservation_runs_behind_and_thinks_it_live()
    {
        Place(queues: OnTime, shards: OnTime, reservations: Behind, seatBlocks: OnTime);
        var definition = await NewEvent();
        var block = SeatBlocks.For(Grains, definition.EventId, TestEvents.BlockId);
        var first = Guid.NewGuid();
        var late = await Grains.GetGrain<IUserReservationsGrain>(first)
            .Reserve(definition.EventId, TestEvents.BlockId, [TestEvents.SeatId(0, 1)], null, null).Reserved();
        AssertPlacedOn(Behind, Grains.GetGrain<IReservationGrain>(late.ReservationId));
        AssertPlacedOn(OnTime, block);

        // The hold lapses on the block's clock; the reservation's clock says it has the skew still to run.
        _fixture.Clock.Advance(late.ExpiresAt - _fixture.Clock.GetUtcNow() + TimeSpan.FromSeconds(1));
        Assert.Equal(ReservationStatus.PendingPayment, (await Grains.GetGrain<IReservationGrain>(late.ReservationId).Get())!.Status);
        var second = Guid.NewGuid();
        var taken = await Grains.GetGrain<IUserReservationsGrain>(second)
            .Reserve(definition.EventId, TestEvents.BlockId, [TestEvents.SeatId(0, 1)], null, null).Reserved();

        var refused = await Assert.ThrowsAsync<DomainException>(() =>
            Grains.GetGrain<IReservationGrain>(late.ReservationId).Pay(new PaymentCommand(first, "sandbox", null)));
        var sold = await Grains.GetGrain<IReservationGrain>(taken.ReservationId).Pay(new PaymentCommand(second, "sandbox", null));

        Assert.Equal("reservation-expired", refused.Code);
        var lateView = (await Grains.GetGrain<IReservationGrain>(late.ReservationId).Get())!;
        Assert.Equal(ReservationStatus.Expired, lateView.Status);
        Assert.True(lateView.Payment is null or { Refunded: true });
        Assert.Equal(ReservationStatus.Confirmed, sold.Status);
        Assert.Equal(1, (await block.GetCounts()).Sold);
    }

    [Fact]
    public async Task A_queue_that_moves_to_a_silo_whose_clock_runs_behind_keeps_every_place_and_admits_in_ticket_order()
    {
        Place(queues: OnTime, shards: OnTime);
        var definition = await NewEvent();
        var queue = Grains.GetGrain<IEventQueueGrain>(definition.EventId);
        var users = new List<Guid>();
        for (var i = 0; i < 6; i++)
        {
            users.Add(Guid.NewGuid());
            await QueueShards.For(Grains, definition.EventId, users[^1]).Join(users[^1]);
        }

        _fixture.Clock.Advance(TimeSpan.FromSeconds(2));
        var before = await ClusterFixture.Eventually(queue.GetStats, s => s.ServingCursor >= 2);
        AssertPlacedOn(OnTime, queue);

        // It is deactivated (as when its silo shuts down) and wakes up on the other silo, whose clock reads
        // the skew earlier than its last tick.
        _fixture.Pins.Pin(queue, Behind);
        await _fixture.Cluster.DeactivateAsync(queue);
        for (var i = 0; i < 2; i++)
        {
            users.Add(Guid.NewGuid());
            await QueueShards.For(Grains, definition.EventId, users[^1]).Join(users[^1]);
        }

        AssertPlacedOn(Behind, queue);
        var tickets = new List<long>();
        foreach (var user in users)
        {
            tickets.Add((await QueueShards.For(Grains, definition.EventId, user).GetStatus(user))!.TicketNumber!.Value);
        }

        // Every place kept, no number given twice, in arrival order.
        Assert.Equal(Enumerable.Range(1, users.Count).Select(n => (long)n), tickets);
        var cursors = new List<long> { before.ServingCursor };
        for (var second = 0; second < 12 && cursors[^1] < users.Count; second++)
        {
            _fixture.Clock.Advance(TimeSpan.FromSeconds(1));
            cursors.Add((await queue.GetStats()).ServingCursor);
        }

        // The line goes on moving at the configured pace, never back.
        Assert.Equal(users.Count, cursors[^1]);
        Assert.Equal(cursors.Order(), cursors);
        foreach (var (user, ticket) in users.Zip(tickets))
        {
            var status = (await QueueShards.For(Grains, definition.EventId, user).GetStatus(user))!;
            Assert.Equal(QueueStatusKind.Admitted, status.Status);
            Assert.Equal(ticket, status.TicketNumber);
        }
    }
}
