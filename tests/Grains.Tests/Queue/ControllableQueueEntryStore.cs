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

    private readonly ConcurrentDictionary<string, SaveGate> _gates = new(StringComparer.Ordinal);

    public void FailSaves(string eventId, bool fail) => _failing[eventId] = fail;

    private readonly ConcurrentDictionary<string, bool> _failingLoads = new(StringComparer.Ordinal);

    /// <summary>Makes the event's shards fail to load, so a shard not active cannot be reached at all.</summary>
    public void FailLoads(string eventId, bool fail) => _failingLoads[eventId] = fail;

    /// <summary>Holds the event's next save until the test lets it go on or fail; one save only.</summary>
    public SaveGate HoldNextSave(string eventId) => _gates[eventId] = new SaveGate();

    public sealed class SaveGate
    {
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Completes when the held save has started.</summary>
        public Task Entered => _entered.Task;

        public void Fail(Exception error) => _released.TrySetException(error);

        internal async Task Pass()
        {
            _entered.TrySetResult();
            await _released.Task;
        }
    }

    public Task<QueueShardSnapshot> Load(string shardKey, CancellationToken cancellationToken) =>
        _failingLoads.GetValueOrDefault(shardKey[..shardKey.LastIndexOf('#')])
            ? Task.FromException<QueueShardSnapshot>(new IOException($"Storage is unreachable (test switch for '{shardKey}')."))
            : Inner.Load(shardKey, cancellationToken);

    public async Task<long> Save(string shardKey, long version, IReadOnlyCollection<QueueEntryChange> changes,
        IReadOnlyList<DomainEvent> events, CancellationToken cancellationToken)
    {
        var eventId = shardKey[..shardKey.LastIndexOf('#')];
        if (_gates.TryRemove(eventId, out var gate))
        {
            await gate.Pass();
        }

        return _failing.GetValueOrDefault(eventId)
            ? throw new IOException($"Storage is unreachable (test switch for '{shardKey}').")
            : await Inner.Save(shardKey, version, changes, events, cancellationToken);
    }
}
