using TicketQueue.Grains.Abstractions.Seats;
using TicketQueue.Grains.Abstractions.Reservations;

namespace TicketQueue.Grains.Tests.Seats;

[Collection(ClusterCollection.Name)]
public sealed class SeatContentionTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Five_hundred_contenders_for_fifty_seats_get_exactly_fifty()
    {
        const int rows = 5, seatsPerRow = 10, capacity = rows * seatsPerRow, contenders = 500;
        var definition = await fixture.CreateEvent(rows: rows, seatsPerRow: seatsPerRow);
        var block = SeatBlocks.For(fixture.Grains, definition.EventId, TestEvents.BlockId);

        // Half ask for any one seat, half for a particular one (ten contenders per seat).
        var attempts = Enumerable.Range(0, contenders).Select(async i =>
        {
            var userId = Guid.NewGuid();
            var seat = i % capacity;
            IReadOnlyList<string>? seatIds = i % 2 == 0 ? [TestEvents.SeatId(seat / seatsPerRow, seat % seatsPerRow + 1)] : null;
            int? quantity = seatIds is null ? 1 : null;
            var outcome = await fixture.Grains.GetGrain<IUserReservationsGrain>(userId)
                .Reserve(definition.EventId, TestEvents.BlockId, seatIds, quantity, idempotencyKey: null);
            return (userId, View: outcome.Reservation, outcome.Refusal);
        });
        var results = await Task.WhenAll(attempts);

        var won = results.Where(r => r.View is not null).ToList();
        Assert.Equal(capacity, won.Count);
        Assert.All(results.Where(r => r.View is null), r => Assert.Contains(r.Refusal!.Code, new[] { "not-enough-seats", "seats-unavailable" }));
        var seatsTaken = won.SelectMany(r => r.View!.Seats).ToList();
        Assert.Equal(capacity, seatsTaken.Count);
        Assert.Equal(capacity, seatsTaken.Distinct().Count());
        var held = await block.GetCounts();
        Assert.Equal(capacity, held.Held);
        Assert.Equal(0, held.Available);

        var paid = await Task.WhenAll(won.Select(r => fixture.Grains.GetGrain<IReservationGrain>(r.View!.ReservationId)
            .Pay(new PaymentCommand(r.userId, "sandbox", null))));

        Assert.All(paid, view => Assert.Equal(ReservationStatus.Confirmed, view.Status));
        var sold = await block.GetCounts();
        Assert.Equal(capacity, sold.Sold);
        Assert.Equal(0, sold.Held);

        // The holds and sales were answered together by group commit; every one of them was written.
        await fixture.Cluster.DeactivateAsync(block);
        var reloaded = await block.GetCounts();
        Assert.Equal(capacity, reloaded.Sold);
        Assert.Equal(0, reloaded.Available);
    }
}
