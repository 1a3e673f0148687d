using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.Queue;

namespace TicketQueue.JoinBenchmark;

/// <summary>
/// A queue record store that keeps nothing: every shard loads empty and every save succeeds at once.
/// Only for seeing the join path and the shards' own memory without any store behind them.
/// </summary>
internal sealed class DiscardQueueEntryStore : IQueueEntryStore
{
    public Task<QueueShardSnapshot> Load(string shardKey, CancellationToken cancellationToken) =>
        Task.FromResult(new QueueShardSnapshot(0, []));

    public Task<long> Save(string shardKey, long version, IReadOnlyCollection<QueueEntryChange> changes,
        IReadOnlyList<DomainEvent> events, CancellationToken cancellationToken) =>
        Task.FromResult(version + 1);
}
