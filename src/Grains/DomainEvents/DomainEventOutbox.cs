using TicketQueue.Grains.Abstractions.DomainEvents;

namespace TicketQueue.Grains.DomainEvents;

/// <summary>
/// Where grains hand their recorded events once the state change that caused them is durable. The
/// embedded stack keeps them in memory (<see cref="InProcessEventLog"/>); the cluster appends them to
/// <c>common.outbox_events</c>, from which the relay ships them to Kafka. Appending an event twice is
/// harmless: it is kept once, by its id.
/// </summary>
public interface IDomainEventOutbox
{
    Task Append(IReadOnlyList<DomainEvent> events, CancellationToken cancellationToken);
}
