using Microsoft.Extensions.DependencyInjection;
using TicketQueue.Gateway.Queue;
using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.Gateway.Tests;

/// <summary>
/// Makes the gateway's next subscription to one event's queue wait until released, then fail, as a call to
/// a queue grain whose silo is dying does. Held on the way out: held inside the queue grain, it would hold
/// up every other call to that grain too.
/// </summary>
public sealed class SubscriptionFaults : IOutgoingGrainCallFilter
{
    private (string EventId, HeldFailure Held)? _next;

    public HeldFailure FailNextSubscribe(string eventId)
    {
        var held = new HeldFailure();
        _next = (eventId, held);
        return held;
    }

    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.InterfaceMethod?.Name == nameof(IEventQueueGrain.Subscribe)
            && _next is { } next && context.TargetId.Key.ToString() == next.EventId)
        {
            _next = null;
            next.Held.Entered.TrySetResult();
            await next.Held.Released.Task;
            throw new TimeoutException("The queue grain did not answer (test fault).");
        }

        await context.Invoke();
    }

    public sealed class HeldFailure
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

public sealed class SubscriptionFaultFixture() : GatewayFixture(new GatewayFactory(services: services =>
    services.AddSingleton<IOutgoingGrainCallFilter, SubscriptionFaults>()))
{
    public SubscriptionFaults Faults => (SubscriptionFaults)Factory.Services.GetServices<IOutgoingGrainCallFilter>().OfType<SubscriptionFaults>().Single();
}

public sealed class QueueSubscriptionTests(SubscriptionFaultFixture fixture) : IClassFixture<SubscriptionFaultFixture>
{
    private TestApi Api => fixture.Api;

    [Fact]
    public async Task Followers_who_arrive_while_the_subscription_is_made_hear_when_it_fails_and_are_told_of_their_turn_once_they_follow_again()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec();
        await Api.CreatePausedEvent(spec, ct);
        var users = await Api.RegisterMany(2, ct);
        var joined = new[] { await users[0].Join(spec.EventId, ct), await users[1].Join(spec.EventId, ct) };
        await using var first = await QueueHubClient.Connect(Api.Factory, users[0].Tokens.AccessToken, ct);
        await using var second = await QueueHubClient.Connect(Api.Factory, users[1].Tokens.AccessToken, ct);

        // The first follower's call subscribes the gateway; the queue grain is slow to answer, then fails.
        var failing = fixture.Faults.FailNextSubscribe(spec.EventId);
        var firstFollow = first.Follow(spec.EventId, joined[0].Ticket, ct);
        await failing.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
        var secondFollow = second.Follow(spec.EventId, joined[1].Ticket, ct);
        // Released once the second follower's call has reached the subscription (or, before, gone past it).
        var fanout = Api.Factory.Services.GetRequiredService<QueueFanout>();
        await Eventually(() => fanout.SubscriptionCallers(spec.EventId) == 2 || secondFollow.IsCompleted);
        failing.Released.TrySetResult();

        // Before, the second was answered at once as following live while the subscription was still being
        // made, and then nothing was subscribed: no cursor move and no admission ever reached it, and its
        // page, believing itself live, did not poll either.
        await Assert.ThrowsAnyAsync<Exception>(() => firstFollow);
        await Assert.ThrowsAnyAsync<Exception>(() => secondFollow);

        // Following again subscribes anew, and both hear of their turn.
        await first.Follow(spec.EventId, joined[0].Ticket, ct);
        await second.Follow(spec.EventId, joined[1].Ticket, ct);
        await Api.SetQueue(spec.EventId, new { paused = false, admissionsPerMinute = 6_000 }, ct);
        Assert.Equal(joined[0].TicketNumber, (await first.Next<AdmittedMessage>(m => m.EventId == spec.EventId, ct)).TicketNumber);
        Assert.Equal(joined[1].TicketNumber, (await second.Next<AdmittedMessage>(m => m.EventId == spec.EventId, ct)).TicketNumber);
    }

    private static async Task Eventually(Func<bool> condition)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.True(condition(), "the condition never held");
    }
}
