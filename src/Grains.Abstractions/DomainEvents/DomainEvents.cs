namespace TicketQueue.Grains.Abstractions.DomainEvents;

/// <summary>
/// A fact the rest of the company may act on (docs/events.md). Every event has a unique id (consumers
/// drop duplicates by it), the aggregate it belongs to (the Kafka key, so one aggregate's events stay in
/// order), and the time it happened. <see cref="Type"/> names the event and its version; a change that
/// breaks consumers gets a new version, never a changed meaning.
/// </summary>
[GenerateSerializer, Immutable]
public abstract record DomainEvent
{
    [Id(0)] public required Guid EventId { get; init; }

    [Id(1)] public required DateTimeOffset OccurredAt { get; init; }

    /// <summary>The stable type name with its version, e.g. <c>ticketqueue.queue.joined.v1</c>.</summary>
    public abstract string Type { get; }

    /// <summary>The aggregate type: it names the topic (<c>queue</c>, <c>reservation</c>, <c>payment</c>).</summary>
    public abstract string AggregateType { get; }

    /// <summary>The aggregate's id: the Kafka key.</summary>
    public abstract string AggregateId { get; }
}

/// <summary>Events of one user's place in one event's queue; aggregate id "{eventId}/{userId}".</summary>
[GenerateSerializer, Immutable]
public abstract record QueueEvent : DomainEvent
{
    [Id(0)] public required string TicketedEventId { get; init; }

    [Id(1)] public required Guid UserId { get; init; }

    public override string AggregateType => "queue";

    public override string AggregateId => $"{TicketedEventId}/{UserId}";
}

/// <summary>A user got a place in line: a ticket number, or a pre-queue place before sales open.</summary>
[GenerateSerializer, Immutable, Alias("tq.QueueJoined")]
public sealed record QueueJoined : QueueEvent
{
    [Id(0)] public required long Number { get; init; }

    [Id(1)] public required bool PreQueue { get; init; }

    public override string Type => "ticketqueue.queue.joined.v1";
}

/// <summary>An admitted user showed up (the first time they asked after the cursor passed them).</summary>
[GenerateSerializer, Immutable, Alias("tq.QueueAdmitted")]
public sealed record QueueAdmitted : QueueEvent
{
    [Id(0)] public required long TicketNumber { get; init; }

    [Id(1)] public required int BatchId { get; init; }

    public override string Type => "ticketqueue.queue.admitted.v1";
}

/// <summary>A user left the line (or gave up their place after admission).</summary>
[GenerateSerializer, Immutable, Alias("tq.QueueLeft")]
public sealed record QueueLeft : QueueEvent
{
    [Id(0)] public required long Number { get; init; }

    public override string Type => "ticketqueue.queue.left.v1";
}

/// <summary>Events of one reservation; aggregate id the reservation id.</summary>
[GenerateSerializer, Immutable]
public abstract record ReservationEvent : DomainEvent
{
    [Id(0)] public required Guid ReservationId { get; init; }

    [Id(1)] public required Guid UserId { get; init; }

    [Id(2)] public required string TicketedEventId { get; init; }

    public override string AggregateType => "reservation";

    public override string AggregateId => ReservationId.ToString();
}

/// <summary>Seats are held for the user until <see cref="ExpiresAt"/>, awaiting payment.</summary>
[GenerateSerializer, Immutable, Alias("tq.SeatsHeld")]
public sealed record SeatsHeld : ReservationEvent
{
    [Id(0)] public required string BlockId { get; init; }

    [Id(1)] public required IReadOnlyList<string> Seats { get; init; }

    [Id(2)] public required decimal Amount { get; init; }

    [Id(3)] public required string Currency { get; init; }

    [Id(4)] public required DateTimeOffset ExpiresAt { get; init; }

    public override string Type => "ticketqueue.reservation.seats-held.v1";
}

/// <summary>The hold ran out unpaid; its seats are free again.</summary>
[GenerateSerializer, Immutable, Alias("tq.HoldExpired")]
public sealed record HoldExpired : ReservationEvent
{
    [Id(0)] public required IReadOnlyList<string> Seats { get; init; }

    public override string Type => "ticketqueue.reservation.hold-expired.v1";
}

/// <summary>Paid and sold: the seats are the user's.</summary>
[GenerateSerializer, Immutable, Alias("tq.ReservationConfirmed")]
public sealed record ReservationConfirmed : ReservationEvent
{
    [Id(0)] public required IReadOnlyList<string> Seats { get; init; }

    [Id(1)] public required decimal Amount { get; init; }

    [Id(2)] public required string Currency { get; init; }

    public override string Type => "ticketqueue.reservation.confirmed.v1";
}

/// <summary>The reservation was cancelled (by the user or after a sale): its seats are free again.</summary>
[GenerateSerializer, Immutable, Alias("tq.ReservationCancelled")]
public sealed record ReservationCancelled : ReservationEvent
{
    [Id(0)] public required IReadOnlyList<string> Seats { get; init; }

    [Id(1)] public required bool WasConfirmed { get; init; }

    public override string Type => "ticketqueue.reservation.cancelled.v1";
}

/// <summary>Events of one payment; aggregate id "{provider}:{paymentId}".</summary>
[GenerateSerializer, Immutable]
public abstract record PaymentEvent : DomainEvent
{
    [Id(0)] public required string Provider { get; init; }

    [Id(1)] public required string PaymentId { get; init; }

    [Id(2)] public required Guid ReservationId { get; init; }

    [Id(3)] public required decimal Amount { get; init; }

    [Id(4)] public required string Currency { get; init; }

    public override string AggregateType => "payment";

    public override string AggregateId => $"{Provider}:{PaymentId}";
}

/// <summary>The payment company approved (captured) the payment and it was recorded on the reservation.</summary>
[GenerateSerializer, Immutable, Alias("tq.PaymentApproved")]
public sealed record PaymentApproved : PaymentEvent
{
    public override string Type => "ticketqueue.payment.approved.v1";
}

/// <summary>The money went back: a cancellation, or a payment that came too late or twice.</summary>
[GenerateSerializer, Immutable, Alias("tq.PaymentRefunded")]
public sealed record PaymentRefunded : PaymentEvent
{
    [Id(0)] public required string Reason { get; init; }

    public override string Type => "ticketqueue.payment.refunded.v1";
}
