using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.Abstractions.Payments;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.DomainEvents;

namespace TicketQueue.Grains.Tests.DomainEvents;

/// <summary>The facts a ticket opening records, in the embedded event sink, each once and in order per aggregate.</summary>
[Collection(ClusterCollection.Name)]
public sealed class DomainEventTests(ClusterFixture fixture)
{
    private static readonly TimeSpan HoldDuration = TimeSpan.FromMinutes(5);

    private IReadOnlyList<DomainEvent> EventsOf(string aggregateId) =>
        [.. fixture.Events.Recent().Where(e => e.AggregateId == aggregateId)];

    [Fact]
    public async Task A_purchase_and_its_cancellation_record_every_fact_in_order()
    {
        var definition = await fixture.CreateEvent(TestEvents.Settings(admissionsPerMinute: 60, holdDuration: HoldDuration));
        var userId = Guid.NewGuid();
        var shard = QueueShards.For(fixture.Grains, definition.EventId, userId);
        var joined = await shard.Join(userId);
        fixture.Clock.Advance(TimeSpan.FromSeconds(2));
        await ClusterFixture.Eventually(() => shard.Claim(userId), s => s?.Status == QueueStatusKind.Admitted);

        var reservation = await fixture.Grains.GetGrain<IUserReservationsGrain>(userId).Reserve(definition.EventId, TestEvents.BlockId, ["A-1", "A-2"], null, null).Reserved();
        var paid = await fixture.Grains.GetGrain<IReservationGrain>(reservation.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));
        await fixture.Grains.GetGrain<IReservationGrain>(reservation.ReservationId).Cancel(userId);

        var queue = EventsOf($"{definition.EventId}/{userId}");
        Assert.Collection(queue,
            e => Assert.Equal(joined.Place.Number, Assert.IsType<QueueJoined>(e).Number),
            e => Assert.Equal(joined.TicketNumber, Assert.IsType<QueueAdmitted>(e).TicketNumber));

        var sale = EventsOf(reservation.ReservationId.ToString());
        Assert.Collection(sale,
            e => Assert.Equal(["A-1", "A-2"], Assert.IsType<SeatsHeld>(e).Seats),
            e => Assert.Equal(reservation.Amount, Assert.IsType<ReservationConfirmed>(e).Amount),
            e => Assert.True(Assert.IsType<ReservationCancelled>(e).WasConfirmed));
        Assert.All(sale.Cast<ReservationEvent>(), e => Assert.Equal(userId, e.UserId));

        var money = EventsOf($"sandbox:{paid.Payment!.PaymentId}");
        Assert.Collection(money,
            e => Assert.Equal(reservation.Amount, Assert.IsType<PaymentApproved>(e).Amount),
            e => Assert.Equal("reservation-cancelled", Assert.IsType<PaymentRefunded>(e).Reason));

        var all = queue.Concat(sale).Concat(money).ToList();
        Assert.Equal(all.Count, all.Select(e => e.EventId).Distinct().Count());
        Assert.All(all, e => Assert.Matches(@"^ticketqueue\.[a-z]+\.[a-z-]+\.v1$", e.Type));
    }

    [Fact]
    public async Task A_hold_that_runs_out_records_that_it_expired()
    {
        var definition = await fixture.CreateEvent(TestEvents.Settings(holdDuration: HoldDuration));
        var userId = Guid.NewGuid();
        var reservation = await fixture.Grains.GetGrain<IUserReservationsGrain>(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null).Reserved();

        fixture.Clock.Advance(HoldDuration + TimeSpan.FromSeconds(1));
        await fixture.Grains.GetGrain<IReservationGrain>(reservation.ReservationId).Get();

        Assert.Collection(EventsOf(reservation.ReservationId.ToString()),
            e => Assert.IsType<SeatsHeld>(e),
            e => Assert.Equal(reservation.Seats, Assert.IsType<HoldExpired>(e).Seats));
    }

    [Fact]
    public async Task A_join_that_was_not_saved_records_nothing_and_one_event_once_it_is()
    {
        var definition = await fixture.CreateEvent(TestEvents.Settings());
        var userId = Guid.NewGuid();
        var shard = QueueShards.For(fixture.Grains, definition.EventId, userId);
        // The shard is active; then another activation of it (a failover) saves first, so the store
        // itself refuses this activation's save of the join, together with its event.
        await shard.Join(Guid.NewGuid());
        var shardKey = QueueShards.KeyFor(definition.EventId, userId);
        var stored = await fixture.QueueRecords.Inner.Load(shardKey, TestContext.Current.CancellationToken);
        await fixture.QueueRecords.Inner.Save(shardKey, stored.Version, [], [], TestContext.Current.CancellationToken);
        await Assert.ThrowsAnyAsync<Exception>(() => shard.Join(userId));
        Assert.Empty(EventsOf($"{definition.EventId}/{userId}"));

        // And a save that never reached the store records nothing either.
        fixture.QueueRecords.FailSaves(definition.EventId, true);
        await Assert.ThrowsAnyAsync<Exception>(() => shard.Join(userId));
        Assert.Empty(EventsOf($"{definition.EventId}/{userId}"));

        fixture.QueueRecords.FailSaves(definition.EventId, false);
        await shard.Join(userId);
        await shard.Join(userId);

        Assert.IsType<QueueJoined>(Assert.Single(EventsOf($"{definition.EventId}/{userId}")));
    }

    [Fact]
    public void The_envelope_is_a_CloudEvent_keyed_by_the_aggregate()
    {
        var e = new SeatsHeld
        {
            EventId = Guid.NewGuid(), OccurredAt = new DateTimeOffset(2030, 1, 1, 9, 0, 0, TimeSpan.Zero), ReservationId = Guid.NewGuid(),
            UserId = Guid.NewGuid(), TicketedEventId = "spring-concert", BlockId = "floor", Seats = ["A-1"], Amount = 55_000m,
            Currency = "KRW", ExpiresAt = new DateTimeOffset(2030, 1, 1, 9, 5, 0, TimeSpan.Zero),
        };

        var decoded = CloudEventEnvelope.Decode(CloudEventEnvelope.Encode(e));

        Assert.Equal(e.EventId.ToString(), decoded.Id);
        Assert.Equal("ticketqueue.reservation.seats-held.v1", decoded.Type);
        Assert.Equal(e.ReservationId.ToString(), decoded.Subject);
        Assert.Equal(e.ReservationId.ToString(), decoded[CloudEventEnvelope.PartitionKey]);
        Assert.Equal("reservation", decoded[CloudEventEnvelope.AggregateType]);
        Assert.Equal(e.OccurredAt, decoded.Time);
        var data = Assert.IsType<System.Text.Json.JsonElement>(decoded.Data);
        Assert.Equal("A-1", data.GetProperty("seats")[0].GetString());
        Assert.Equal(55_000m, data.GetProperty("amount").GetDecimal());
        Assert.Equal("spring-concert", data.GetProperty("ticketedEventId").GetString());
        Assert.False(data.TryGetProperty("eventId", out _));
    }
}
