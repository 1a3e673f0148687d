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

    public void SetDown(string shardKey, bool down) => _down[shardKey] = down;

    public Task<QueueShardSnapshot> Load(string shardKey, CancellationToken cancellationToken) => _inner.Load(shardKey, cancellationToken);

    public Task<long> Save(string shardKey, long version, IReadOnlyCollection<QueueEntryChange> changes,
        IReadOnlyList<DomainEvent> events, CancellationToken cancellationToken) =>
        _down.GetValueOrDefault(shardKey)
            ? Task.FromException<long>(new IOException($"Storage is unreachable (test outage of '{shardKey}')."))
            : _inner.Save(shardKey, version, changes, events, cancellationToken);
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
        await Api.CreateEvent(spec, ct);
        await Api.SetQueue(spec.EventId, new { paused = true }, ct);

        // Two followers in different shards; the one whose shard will be down is first in line.
        var users = await Api.RegisterMany(8, ct);
        var first = users[0];
        var second = users.First(u => QueueShards.ShardOf(u.UserId) != QueueShards.ShardOf(first.UserId));
        var firstJoined = await first.Join(spec.EventId, ct);
        var secondJoined = await second.Join(spec.EventId, ct);
        Assert.True(firstJoined.TicketNumber < secondJoined.TicketNumber);
        await using var firstHub = await QueueHubClient.Connect(Api.Factory, first.Tokens.AccessToken, ct);
        await using var secondHub = await QueueHubClient.Connect(Api.Factory, second.Tokens.AccessToken, ct);
        await firstHub.Follow(spec.EventId, firstJoined.Ticket, ct);
        await secondHub.Follow(spec.EventId, secondJoined.Ticket, ct);

        // One tick admits both; claiming the first fails, its shard's database being away.
        var firstShard = QueueShards.KeyFor(spec.EventId, first.UserId);
        fixture.Outages.SetDown(firstShard, true);
        await Api.SetQueue(spec.EventId, new { paused = false }, ct);

        // Before, the failure ended the delivery: nobody after the first follower heard of their admission.
        var admitted = await secondHub.Next<AdmittedMessage>(m => m.EventId == spec.EventId, ct);
        Assert.Equal(secondJoined.TicketNumber, admitted.TicketNumber);

        // The first is told with the next update once the shard saves again, not forgotten.
        fixture.Outages.SetDown(firstShard, false);
        await Api.SetQueue(spec.EventId, new { admissionsPerMinute = 500_000 }, ct);
        var late = await firstHub.Next<AdmittedMessage>(m => m.EventId == spec.EventId, ct);
        Assert.Equal(firstJoined.TicketNumber, late.TicketNumber);
        Assert.False(string.IsNullOrEmpty(late.AdmissionToken));
    }
}
