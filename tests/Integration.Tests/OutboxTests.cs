using Npgsql;
using TicketQueue.Grains.Abstractions.Events;
using TicketQueue.Grains.Abstractions.Payments;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Integration.Tests.Infrastructure;

namespace TicketQueue.Integration.Tests;

/// <summary>Domain events of a purchase reach <c>common.outbox_events</c> in the order they happened.</summary>
[Collection(DatabaseCollection.Name)]
public sealed class OutboxTests(DatabaseFixture db)
{
    [Fact]
    public async Task A_purchase_puts_its_facts_in_the_outbox_in_order()
    {
        var ct = TestContext.Current.CancellationToken;
        var eventId = $"ob-{Guid.NewGuid():N}";
        await db.Grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key).Create(new EventDefinition(
            eventId, "Outbox test", "Hall", DateTimeOffset.UtcNow.AddDays(30), DateTimeOffset.UtcNow.AddMinutes(-1),
            "KRW", 4, [new SeatBlockDefinition("floor", "Floor", 2, 10, 10_000m)],
            new QueueSettings(60, 100, TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(5))));
        var userId = Guid.NewGuid();
        var reservation = (await db.Grains.GetGrain<IUserReservationsGrain>(userId).Reserve(eventId, "floor", null, 2, null)).ReservedOrThrow();
        var paid = await db.Grains.GetGrain<IReservationGrain>(reservation.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));

        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(
            "SELECT aggregate_id, event_type FROM common.outbox_events WHERE aggregate_id = $1 OR aggregate_id = $2 ORDER BY seq", connection);
        command.Parameters.AddWithValue(reservation.ReservationId.ToString());
        command.Parameters.AddWithValue($"sandbox:{paid.Payment!.PaymentId}");
        var rows = new List<(string Aggregate, string Type)>();
        await using (var reader = await command.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                rows.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        Assert.Equal(
            ["ticketqueue.reservation.seats-held.v1", "ticketqueue.payment.approved.v1", "ticketqueue.reservation.confirmed.v1"],
            rows.Select(r => r.Type));
    }
}
