using TicketQueue.Grains.Abstractions.DomainEvents;

namespace TicketQueue.Integration.Tests.Kafka;

/// <summary>
/// The domain events of one ticket opening, in the order the grains would record them and grouped as
/// they would append them: users join and are admitted, some leave; shoppers hold seats, pay and are
/// confirmed; some holds expire; some purchases are cancelled and refunded.
/// </summary>
public sealed class TicketOpening
{
    private readonly List<IReadOnlyList<DomainEvent>> _appends = [];
    private readonly string _eventId = "opening-" + Guid.NewGuid().ToString("N")[..8];
    private DateTimeOffset _clock = DateTimeOffset.UtcNow;

    private TicketOpening()
    {
    }

    /// <summary>The events as appended to the outbox, one list per append.</summary>
    public IReadOnlyList<IReadOnlyList<DomainEvent>> Appends => _appends;

    public IReadOnlyList<DomainEvent> Events => [.. _appends.SelectMany(a => a)];

    public static TicketOpening Script(int users, int reservations)
    {
        var opening = new TicketOpening();
        var userIds = Enumerable.Range(0, users).Select(_ => Guid.NewGuid()).ToArray();
        foreach (var chunk in userIds.Index().Chunk(10))
        {
            opening.Append([.. chunk.Select(u => opening.Joined(u.Item, u.Index + 1))]);
        }

        foreach (var chunk in userIds.Index().Chunk(25))
        {
            opening.Append([.. chunk.Select(u => opening.Admitted(u.Item, u.Index + 1, batchId: u.Index / 25))]);
        }

        for (var r = 0; r < reservations; r++)
        {
            opening.Purchase(r, userIds[r % users]);
        }

        // Some of those who did not buy give their place up.
        for (var u = reservations; u < users; u += 7)
        {
            opening.Append([opening.Left(userIds[u], u + 1)]);
        }

        return opening;
    }

    private void Purchase(int r, Guid userId)
    {
        var reservationId = Guid.NewGuid();
        string[] seats = [$"A-{r / 20 + 1}-{r % 20 + 1}"];
        Append([new SeatsHeld
        {
            EventId = Guid.NewGuid(), OccurredAt = Tick(), ReservationId = reservationId, UserId = userId, TicketedEventId = _eventId,
            BlockId = "A", Seats = seats, Amount = 110_000m, Currency = "KRW", ExpiresAt = _clock.AddMinutes(10),
        }]);
        if (r % 5 == 4)
        {
            Append([new HoldExpired { EventId = Guid.NewGuid(), OccurredAt = Tick(), ReservationId = reservationId, UserId = userId, TicketedEventId = _eventId, Seats = seats }]);
            return;
        }

        var paymentId = $"pay-{Guid.NewGuid():N}";
        Append([new PaymentApproved
        {
            EventId = Guid.NewGuid(), OccurredAt = Tick(), Provider = "sandbox", PaymentId = paymentId, ReservationId = reservationId,
            Amount = 110_000m, Currency = "KRW",
        }]);
        Append([new ReservationConfirmed
        {
            EventId = Guid.NewGuid(), OccurredAt = Tick(), ReservationId = reservationId, UserId = userId, TicketedEventId = _eventId,
            Seats = seats, Amount = 110_000m, Currency = "KRW",
        }]);
        if (r % 5 == 3)
        {
            Append([
                new ReservationCancelled
                {
                    EventId = Guid.NewGuid(), OccurredAt = Tick(), ReservationId = reservationId, UserId = userId, TicketedEventId = _eventId,
                    Seats = seats, WasConfirmed = true,
                },
                new PaymentRefunded
                {
                    EventId = Guid.NewGuid(), OccurredAt = Tick(), Provider = "sandbox", PaymentId = paymentId, ReservationId = reservationId,
                    Amount = 110_000m, Currency = "KRW", Reason = "cancelled",
                },
            ]);
        }
    }

    private QueueJoined Joined(Guid userId, long number) => new()
    {
        EventId = Guid.NewGuid(), OccurredAt = Tick(), TicketedEventId = _eventId, UserId = userId, Number = number, PreQueue = false,
    };

    private QueueAdmitted Admitted(Guid userId, long number, int batchId) => new()
    {
        EventId = Guid.NewGuid(), OccurredAt = Tick(), TicketedEventId = _eventId, UserId = userId, TicketNumber = number, BatchId = batchId,
    };

    private QueueLeft Left(Guid userId, long number) => new()
    {
        EventId = Guid.NewGuid(), OccurredAt = Tick(), TicketedEventId = _eventId, UserId = userId, Number = number,
    };

    private void Append(IReadOnlyList<DomainEvent> events) => _appends.Add(events);

    private DateTimeOffset Tick() => _clock = _clock.AddMilliseconds(1);
}
