using Orleans.Storage;
using TicketQueue.Grains.Abstractions.DomainEvents;
namespace TicketQueue.Grains.Queue;

/// <summary>
/// Where queue shards keep their per-user records, one row per user. A save writes only what changed
/// since the last one, so its cost follows the batch, not the size of the crowd.
/// </summary>
public interface IQueueEntryStore
{
    /// <summary>Every record of a shard, with the shard's version (0 for a shard never saved).</summary>
    Task<QueueShardSnapshot> Load(string shardKey, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the changes, and the domain events they caused, in one durable step and returns the new
    /// version. Throws <see cref="InconsistentStateException"/> when <paramref name="version"/> is not the
    /// stored one: another activation of the shard saved meanwhile, so this one is stale.
    /// </summary>
    Task<long> Save(string shardKey, long version, IReadOnlyCollection<QueueEntryChange> changes,
        IReadOnlyList<DomainEvent> events, CancellationToken cancellationToken);
}

public sealed record QueueShardSnapshot(long Version, Dictionary<Guid, QueueEntry> Entries);

/// <summary>A user's record as it is now; <c>null</c> when the user left the line.</summary>
public readonly record struct QueueEntryChange(Guid UserId, QueueEntry? Entry);
