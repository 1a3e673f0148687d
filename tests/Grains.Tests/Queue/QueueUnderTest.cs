using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.Grains.Tests.Queue;

/// <summary>One test event's waiting room, with the moves the queue tests make.</summary>
internal sealed class QueueUnderTest(ClusterFixture fixture, string eventId)
{
    public static async Task<QueueUnderTest> Create(ClusterFixture fixture, QueueSettings settings, TimeSpan? salesOpenIn = null, TimeSpan? startsIn = null)
    {
        var definition = await fixture.CreateEvent(settings, salesOpenIn, startsIn);
        return new QueueUnderTest(fixture, definition.EventId);
    }

    public string EventId => eventId;

    public IEventQueueGrain Queue => fixture.Grains.GetGrain<IEventQueueGrain>(eventId);

    public IQueueShardGrain Shard(Guid userId) => QueueShards.For(fixture.Grains, eventId, userId);

    public Task<QueueStatus> Join(Guid userId) => Shard(userId).Join(userId);

    public async Task<QueueStatus> Status(Guid userId) =>
        await Shard(userId).GetStatus(userId) ?? throw new InvalidOperationException($"User {userId} is not in the queue.");

    /// <summary>Joins new users one after another; returns them in arrival order.</summary>
    public async Task<List<Guid>> JoinMany(int count)
    {
        var users = new List<Guid>(count);
        for (var i = 0; i < count; i++)
        {
            var userId = Guid.NewGuid();
            await Join(userId);
            users.Add(userId);
        }

        return users;
    }

    /// <summary>
    /// Moves the fake clock and returns the queue's stats after the admission tick the move fired (the
    /// tick is queued on the grain before Advance returns, ahead of this call).
    /// </summary>
    public async Task<QueueStats> Advance(TimeSpan by)
    {
        fixture.Clock.Advance(by);
        return await Queue.GetStats();
    }

    /// <summary>Moves the clock one second at a time, <paramref name="seconds"/> times.</summary>
    public async Task<QueueStats> AdvanceSeconds(int seconds)
    {
        var stats = await Queue.GetStats();
        for (var i = 0; i < seconds; i++)
        {
            stats = await Advance(TimeSpan.FromSeconds(1));
        }

        return stats;
    }

    public Task<QueueStats> CursorReaches(long cursor) =>
        ClusterFixture.Eventually(Queue.GetStats, s => s.ServingCursor >= cursor);
}
