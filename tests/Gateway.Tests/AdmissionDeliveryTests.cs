using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using TicketQueue.Gateway.Queue;
using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.DomainEvents;
using TicketQueue.Grains.Queue;

namespace TicketQueue.Gateway.Tests;

/// <summary>The embedded queue record store, whose saves for chosen shards fail as an unreachable database would.</summary>
public sealed class ShardOutages(IDomainEventOutbox outbox) : IQueueEntryStore
{
    private readonly MemoryQueueEntryStore _inner = new(outbox);
    private readonly ConcurrentDictionary<string, bool> _down = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _held = new(StringComparer.Ordinal);

    public void SetDown(string shardKey, bool down) => _down[shardKey] = down;

    /// <summary>Saves of the shard wait until <see cref="Release"/>, as with a database that stopped answering.</summary>
    public void Hold(string shardKey) => _held[shardKey] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Release(string shardKey)
    {
        if (_held.TryRemove(shardKey, out var held))
        {
            held.TrySetResult();
        }
    }

    public Task<QueueShardSnapshot> Load(string shardKey, CancellationToken cancellationToken) => _inner.Load(shardKey, cancellationToken);

    public async Task<long> Save(string shardKey, long version, IReadOnlyCollection<QueueEntryChange> changes,
        IReadOnlyList<DomainEvent> events, CancellationToken cancellationToken)
    {
        if (_held.TryGetValue(shardKey, out var held))
        {
            await held.Task;
        }

        return _down.GetValueOrDefault(shardKey)
            ? throw new IOException($"Storage is unreachable (test outage of '{shardKey}').")
            : await _inner.Save(shardKey, version, changes, events, cancellationToken);
    }
}

public sealed class ShardOutageFixture() : GatewayFixture(new GatewayFactory(services: services =>
    services.AddSingleton<IQueueEntryStore>(provider => new ShardOutages(provider.GetRequiredService<IDomainEventOutbox>()))))
{
    public ShardOutages Outages => (ShardOutages)Factory.Services.GetRequiredService<IQueueEntryStore>();
}

public sealed class AdmissionDeliveryTests(ShardOutageFixture fixture) : IClassFixture<ShardOutageFixture>
{
    private TestApi Api => fixture.Api;

    [Fact]
    public async Task A_follower_the_gateway_cannot_claim_does_not_cost_the_others_their_admission_and_hears_later()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec();
        // Two followers in different shards; the one whose shard will fail is first in line.
        var (first, firstJoined, second, secondJoined) = await TwoInLineInDifferentShards(spec, ct);
        await using var firstHub = await Following(first, spec.EventId, firstJoined, ct);
        await using var secondHub = await Following(second, spec.EventId, secondJoined, ct);

        // One tick admits both; claiming the first fails, its shard's database being away.
        var firstShard = QueueShards.KeyFor(spec.EventId, first.UserId);
        fixture.Outages.SetDown(firstShard, true);
        await Api.SetQueue(spec.EventId, new { paused = false }, ct);

        // Before, the failure ended the delivery: nobody after the first follower heard of their admission.
        var admitted = await secondHub.Next<AdmittedMessage>(m => m.EventId == spec.EventId, ct);
        Assert.Equal(secondJoined.TicketNumber, admitted.TicketNumber);

        // The first is told with a later update once the shard saves again, not forgotten. (Their failed
        // claim goes back in line when it fails, which may be just after the next update was sent.)
        fixture.Outages.SetDown(firstShard, false);
        var late = await LaterUpdatesUntil(spec.EventId, firstHub, ct);
        Assert.Equal(firstJoined.TicketNumber, late.TicketNumber);
        Assert.False(string.IsNullOrEmpty(late.AdmissionToken));
    }

    [Fact]
    public async Task A_follower_whose_claim_hangs_holds_up_neither_the_others_nor_the_next_update()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec();
        // Two followers in different shards; the one whose shard will fail is first in line.
        var (first, firstJoined, second, secondJoined) = await TwoInLineInDifferentShards(spec, ct);
        await using var firstHub = await Following(first, spec.EventId, firstJoined, ct);
        await using var secondHub = await Following(second, spec.EventId, secondJoined, ct);

        // The first follower's shard stops answering: claiming them waits, as on a silo that just died.
        var firstShard = QueueShards.KeyFor(spec.EventId, first.UserId);
        fixture.Outages.Hold(firstShard);
        try
        {
            await Api.SetQueue(spec.EventId, new { paused = false }, ct);

            // Before, the gateway told admissions one after another, and every later one waited behind it.
            var admitted = await secondHub.Next<AdmittedMessage>(m => m.EventId == spec.EventId, ct, TimeSpan.FromSeconds(10));
            Assert.Equal(secondJoined.TicketNumber, admitted.TicketNumber);

            // The next update of the event still reaches everyone following it.
            await Api.SetQueue(spec.EventId, new { admissionsPerMinute = 7_777 }, ct);
            await secondHub.Next<CursorMessage>(m => m.EventId == spec.EventId && m.AdmissionsPerMinute == 7_777, ct, TimeSpan.FromSeconds(10));
        }
        finally
        {
            fixture.Outages.Release(firstShard);
        }

        var late = await LaterUpdatesUntil(spec.EventId, firstHub, ct);
        Assert.Equal(firstJoined.TicketNumber, late.TicketNumber);
    }

    /// <summary>A paused event's line of two users whose places are in different shards, in this order.</summary>
    private async Task<(TestUser First, QueueResponse FirstJoined, TestUser Second, QueueResponse SecondJoined)> TwoInLineInDifferentShards(EventSpec spec, CancellationToken ct)
    {
        await Api.CreatePausedEvent(spec, ct);
        var users = await Api.RegisterMany(8, ct);
        var first = users[0];
        var second = users.First(u => QueueShards.ShardOf(u.UserId) != QueueShards.ShardOf(first.UserId));
        var firstJoined = await first.Join(spec.EventId, ct);
        var secondJoined = await second.Join(spec.EventId, ct);
        Assert.True(firstJoined.TicketNumber < secondJoined.TicketNumber);
        return (first, firstJoined, second, secondJoined);
    }

    /// <summary>The user's hub connection, following their place in the event's line.</summary>
    private async Task<QueueHubClient> Following(TestUser user, string eventId, QueueResponse joined, CancellationToken ct)
    {
        var hub = await QueueHubClient.Connect(Api.Factory, user.Tokens.AccessToken, ct);
        await hub.Follow(eventId, joined.Ticket, ct);
        return hub;
    }

    // Sends the event's queue a settings change (one update each) until the follower hears of their admission.
    private async Task<AdmittedMessage> LaterUpdatesUntil(string eventId, QueueHubClient follower, CancellationToken ct)
    {
        for (var pace = 500_000; ; pace++)
        {
            await Api.SetQueue(eventId, new { admissionsPerMinute = pace }, ct);
            try
            {
                return await follower.Next<AdmittedMessage>(m => m.EventId == eventId, ct, TimeSpan.FromSeconds(1));
            }
            catch (TimeoutException) when (pace < 500_020)
            {
            }
        }
    }
}
