using System.Collections.Concurrent;
using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.DomainEvents;
using TicketQueue.Grains.Queue;

namespace TicketQueue.Grains.Tests.Queue;

/// <summary>
/// The embedded record store, with a switch per event that makes its saves fail as an unreachable
/// database would. Tests on other events are unaffected.
/// </summary>
public sealed class ControllableQueueEntryStore(IDomainEventOutbox outbox) : IQueueEntryStore
{
    private readonly ConcurrentDictionary<string, bool> _failing = new(StringComparer.Ordinal);

    public MemoryQueueEntryStore Inner { get; } = new(outbox);

    public void FailSaves(string eventId, bool fail) => _failing[eventId] = fail;

    public Task<QueueShardSnapshot> Load(string shardKey, CancellationToken cancellationToken) =>
        Inner.Load(shardKey, cancellationToken);

    public Task<long> Save(string shardKey, long version, IReadOnlyCollection<QueueEntryChange> changes,
        IReadOnlyList<DomainEvent> events, CancellationToken cancellationToken) =>
        _failing.GetValueOrDefault(shardKey[..shardKey.LastIndexOf('#')])
            ? Task.FromException<long>(new IOException($"Storage is unreachable (test switch for '{shardKey}')."))
            : Inner.Save(shardKey, version, changes, events, cancellationToken);
}
