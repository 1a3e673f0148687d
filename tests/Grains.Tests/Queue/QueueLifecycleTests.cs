using Microsoft.Extensions.DependencyInjection;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Abstractions.Reservations;

namespace TicketQueue.Grains.Tests.Queue;

[Collection(ClusterCollection.Name)]
public sealed class QueueLifecycleTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Tickets_and_cursor_carry_on_after_the_queue_is_reactivated()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 60));
        var users = await queue.JoinMany(4);
        await queue.AdvanceSeconds(2);
        Assert.Equal(2, (await queue.CursorReaches(2)).ServingCursor);

        await fixture.Cluster.DeactivateAsync(queue.Queue);

        var stats = await queue.Queue.GetStats();
        Assert.Equal(2, stats.ServingCursor);
        Assert.Equal(QueueStatusKind.Admitted, (await queue.Status(users[1])).Status);
        Assert.Equal(3, (await queue.Status(users[2])).TicketNumber);
        var newcomer = await queue.Join(Guid.NewGuid());
        Assert.Equal(5, newcomer.TicketNumber);
        await queue.AdvanceSeconds(1);
        Assert.Equal(3, (await queue.CursorReaches(3)).ServingCursor);
    }

    [Fact]
    public async Task Confirming_a_purchase_frees_the_shoppers_queue_slot()
    {
        var (queue, buyer, reservation) = await TheOneShopperHoldingSeats();
        Assert.Equal(1, (await queue.AdvanceSeconds(3)).ServingCursor);

        await fixture.Grains.GetGrain<IReservationGrain>(reservation.ReservationId)
            .Pay(new PaymentCommand(buyer, "sandbox", null));

        await queue.AdvanceSeconds(1);
        Assert.Equal(2, (await queue.CursorReaches(2)).ServingCursor);
    }

    [Fact]
    public async Task A_paid_retry_frees_the_slot_the_first_payment_could_not()
    {
        var (queue, buyer, reservation) = await TheOneShopperHoldingSeats();
        var payment = new PaymentCommand(buyer, "sandbox", null);

        // The purchase is confirmed, but the buyer's shard cannot be reached to end the session (its silo
        // died, and its records cannot be loaded elsewhere yet).
        await fixture.Cluster.DeactivateAsync(queue.Shard(buyer));
        fixture.QueueRecords.FailLoads(queue.EventId, true);
        // The sale stands, and the buyer is told so; the session is ended later.
        var paid = await fixture.Grains.GetGrain<IReservationGrain>(reservation.ReservationId).Pay(payment);
        fixture.QueueRecords.FailLoads(queue.EventId, false);
        Assert.Equal(ReservationStatus.Confirmed, paid.Status);

        // The client retries. Before, the retry saw "confirmed" and returned: the slot stayed taken
        // until the session ran out, and with one slot nobody else got in.
        var retried = await fixture.Grains.GetGrain<IReservationGrain>(reservation.ReservationId).Pay(payment);
        Assert.Equal(ReservationStatus.Confirmed, retried.Status);
        await queue.AdvanceSeconds(1);
        Assert.Equal(2, (await queue.CursorReaches(2)).ServingCursor);
    }

    /// <summary>A queue that lets one shopper in at a time; the first of three is in, showed up, and holds two seats.</summary>
    private async Task<(QueueUnderTest Queue, Guid Buyer, ReservationView Reservation)> TheOneShopperHoldingSeats()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 60, maxActiveShoppers: 1));
        var users = await queue.JoinMany(3);
        await queue.AdvanceSeconds(1);
        Assert.Equal(1, (await queue.CursorReaches(1)).ServingCursor);
        var buyer = users[0];
        await queue.Shard(buyer).Claim(buyer);
        var reservation = await fixture.Grains.GetGrain<IUserReservationsGrain>(buyer)
            .Reserve(queue.EventId, TestEvents.BlockId, null, 2, null).Reserved();
        return (queue, buyer, reservation);
    }

    [Fact]
    public async Task A_shopper_who_finished_does_not_take_a_slot_back_by_claiming()
    {
        var queue = await QueueUnderTest.Create(fixture,
            TestEvents.Settings(admissionsPerMinute: 60, maxActiveShoppers: 1, claimWindow: TimeSpan.FromMinutes(2)));
        var users = await queue.JoinMany(3);
        await queue.AdvanceSeconds(1);
        Assert.Equal(1, (await queue.CursorReaches(1)).ServingCursor);

        // The first shopper is done before ever claiming, then shows up late (a page reload, say).
        await queue.Shard(users[0]).Finish(users[0]);
        await queue.AdvanceSeconds(1);
        Assert.Equal(2, (await queue.CursorReaches(2)).ServingCursor);
        await queue.Shard(users[0]).Claim(users[0]);
        await queue.Shard(users[1]).Claim(users[1]);

        // Past the claim window only claimed, unfinished shoppers count; the second one finishes too.
        await queue.Advance(TimeSpan.FromMinutes(3));
        await queue.Shard(users[1]).Finish(users[1]);
        await queue.AdvanceSeconds(1);

        var stats = await queue.CursorReaches(3);
        Assert.Equal(3, stats.ServingCursor);
    }

    [Fact]
    public async Task Paying_for_an_earlier_admission_while_waiting_again_keeps_the_place_in_line()
    {
        // A hold may outlast the shopping session, so a purchase can complete after the buyer rejoined.
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 60, maxActiveShoppers: 1,
            shoppingSession: TimeSpan.FromMinutes(3), holdDuration: TimeSpan.FromMinutes(5)));
        var buyer = Guid.NewGuid();
        await queue.Join(buyer);
        await queue.AdvanceSeconds(1);
        Assert.Equal(QueueStatusKind.Admitted, (await queue.Status(buyer)).Status);
        await queue.JoinMany(2);
        var reservation = await fixture.Grains.GetGrain<IUserReservationsGrain>(buyer)
            .Reserve(queue.EventId, TestEvents.BlockId, null, 1, null).Reserved();

        await queue.Advance(TimeSpan.FromMinutes(3) + TimeSpan.FromSeconds(1));
        var rejoined = await queue.Join(buyer);
        Assert.Equal(QueueStatusKind.Waiting, rejoined.Status);
        await fixture.Grains.GetGrain<IReservationGrain>(reservation.ReservationId)
            .Pay(new PaymentCommand(buyer, "sandbox", null));

        var again = await queue.Join(buyer);
        Assert.Equal(rejoined.TicketNumber, again.TicketNumber);
        Assert.Equal(QueueStatusKind.Waiting, again.Status);
    }

    [Fact]
    public async Task Paying_for_an_earlier_admission_while_shopping_in_a_later_one_keeps_the_later_session()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 60, maxActiveShoppers: 1,
            shoppingSession: TimeSpan.FromMinutes(3), holdDuration: TimeSpan.FromMinutes(5)));
        var buyer = Guid.NewGuid();
        await queue.Join(buyer);
        await queue.AdvanceSeconds(1);
        Assert.Equal(QueueStatusKind.Admitted, (await queue.Shard(buyer).Claim(buyer))!.Status);
        var reservation = await fixture.Grains.GetGrain<IUserReservationsGrain>(buyer)
            .Reserve(queue.EventId, TestEvents.BlockId, null, 1, null).Reserved();

        // The session ends with the hold still open; the buyer joins again and is admitted again.
        await queue.Advance(TimeSpan.FromMinutes(3) + TimeSpan.FromSeconds(1));
        var rejoined = await queue.Join(buyer);
        await queue.AdvanceSeconds(2);
        await queue.CursorReaches(rejoined.TicketNumber!.Value);
        var again = await queue.Shard(buyer).Claim(buyer);
        Assert.Equal((QueueStatusKind.Admitted, rejoined.TicketNumber), (again!.Status, again.TicketNumber));

        await fixture.Grains.GetGrain<IReservationGrain>(reservation.ReservationId).Pay(new PaymentCommand(buyer, "sandbox", null));

        // Before, the old purchase ended the new session: the buyer's next reservation was refused.
        Assert.Equal(QueueStatusKind.Admitted, (await queue.Status(buyer)).Status);
        Assert.Equal(1, (await queue.Queue.GetStats()).ActiveShoppers);
    }

    [Fact]
    public async Task A_queue_asked_about_before_its_event_exists_works_once_the_event_is_created()
    {
        var eventId = $"ev-{Guid.NewGuid():N}";
        var userId = Guid.NewGuid();
        var early = await Assert.ThrowsAsync<DomainException>(() => QueueShards.For(fixture.Grains, eventId, userId).Join(userId));
        Assert.Equal("event-not-found", early.Code);

        var now = fixture.Clock.GetUtcNow();
        await fixture.Grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key).Create(new EventDefinition(
            eventId, "Late announcement", "Test hall", now.AddDays(30), now.AddMinutes(-1), TestEvents.Currency, 4,
            [new SeatBlockDefinition(TestEvents.BlockId, "Floor", 5, 10, TestEvents.Price)], TestEvents.Settings()));

        var joined = await QueueShards.For(fixture.Grains, eventId, userId).Join(userId);
        Assert.Equal(1, joined.TicketNumber);
    }

    [Fact]
    public async Task Once_sales_closed_and_every_session_ended_the_queue_drops_its_keep_alive_reminder()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 60, shoppingSession: TimeSpan.FromMinutes(10)),
            startsIn: TimeSpan.FromMinutes(1));
        var user = Guid.NewGuid();
        await queue.Join(user);
        await queue.AdvanceSeconds(1);
        Assert.NotEmpty(await KeepAliveReminders(queue.EventId));

        // The event starts: nobody new gets a number, while places already given still answer.
        await queue.Advance(TimeSpan.FromMinutes(1));
        var closed = await Assert.ThrowsAsync<DomainException>(() => queue.Join(Guid.NewGuid()));
        Assert.Equal("sales-closed", closed.Code);
        Assert.Equal(QueueStatusKind.Admitted, (await queue.Status(user)).Status);

        // Every session admitted before has ended: the next tick retires the queue.
        await queue.Advance(TimeSpan.FromMinutes(10) + TimeSpan.FromSeconds(1));
        await queue.AdvanceSeconds(1);

        // Before, every queue kept its reminder for good (and its once-a-second timer, which no test observes).
        Assert.Empty(await ClusterFixture.Eventually(() => KeepAliveReminders(queue.EventId), r => r.Count == 0));
    }

    [Fact]
    public async Task Nobody_is_admitted_after_the_event_started()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 60), startsIn: TimeSpan.FromMinutes(1));
        var users = await queue.JoinMany(3);
        Assert.False((await queue.Status(users[2])).SalesClosed);

        // The first tick comes after the start: before, it admitted a shopper who could no longer buy.
        var stats = await queue.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromSeconds(1));
        await queue.AdvanceSeconds(2);

        Assert.Equal(0, (await queue.Queue.GetStats()).ServingCursor);
        Assert.Equal(3, stats.Issued);
        // Waiting pages are told, so they do not show a line that never moves.
        Assert.True((await queue.Status(users[2])).SalesClosed);
        Assert.True((await queue.Queue.GetLatest()).SalesClosed);
    }

    private async Task<List<ReminderEntry>> KeepAliveReminders(string eventId)
    {
        var table = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<IReminderTable>();
        var rows = await table.ReadRows(fixture.Grains.GetGrain<IEventQueueGrain>(eventId).GetGrainId());
        return [.. rows.Reminders.Where(r => r.ReminderName == "queue-keep-alive")];
    }
}
