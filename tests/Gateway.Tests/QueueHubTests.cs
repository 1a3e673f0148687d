using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.DependencyInjection;
using TicketQueue.Gateway.Problems;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.AspNetCore.SignalR;
using TicketQueue.Gateway.Queue;
using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class QueueHubTests(GatewayFixture fixture)
{
    private TestApi Api => fixture.Api;

    [Fact]
    public async Task A_follower_hears_the_cursor_move_and_is_admitted_with_a_token_that_reserves_seats()
    {
        var ct = TestContext.Current.CancellationToken;
        // One admission per tick: the cursor passes 1, 2, 3 before it reaches the follower's ticket 4.
        var spec = new EventSpec { AdmissionsPerMinute = 600 };
        await Api.CreatePausedEvent(spec, ct);
        foreach (var ahead in await Api.RegisterMany(3, ct))
        {
            await ahead.Join(spec.EventId, ct);
        }

        var follower = await Api.Register(ct);
        var joined = await follower.Join(spec.EventId, ct);
        await using var hub = await QueueHubClient.Connect(Api.Factory, follower.Tokens.AccessToken, ct);
        var followed = await hub.Follow(spec.EventId, joined.Ticket, ct);
        Assert.Equal(QueueStatusKind.Waiting, followed.Status);
        Assert.Equal(4, followed.TicketNumber);

        await Api.SetQueue(spec.EventId, new { paused = false }, ct);
        var admitted = await hub.Next<AdmittedMessage>(_ => true, ct);

        Assert.Equal(spec.EventId, admitted.EventId);
        Assert.Equal(4, admitted.TicketNumber);
        List<long> cursors = [.. hub.Received.OfType<CursorMessage>().Select(c => c.ServingCursor)];
        Assert.True(cursors.SequenceEqual(cursors.Order()), $"the cursor only moves forward: {string.Join(", ", cursors)}");
        Assert.Contains(cursors, c => c is > 0 and < 4);
        Assert.Contains(4, cursors);

        var reservation = await follower.ReserveOk(spec.EventId, admitted.AdmissionToken, new { blockId = spec.BlockId, quantity = 1 }, ct);
        Assert.Single(reservation.Seats);
    }

    [Fact]
    public async Task Arguments_of_the_wrong_type_or_number_are_refused_with_a_code_and_the_connection_stays()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec();
        await Api.CreateEvent(spec, ct);
        var follower = await Api.Register(ct);
        var joined = await follower.Join(spec.EventId, ct);
        await using var hub = await QueueHubClient.Connect(Api.Factory, follower.Tokens.AccessToken, ct);

        object?[][] wrong =
        [
            [123, joined.Ticket],                       // a number where the event id goes
            [spec.EventId, new { ticket = "x" }],        // an object where the ticket goes
            [spec.EventId, new[] { joined.Ticket }],     // an array
            [spec.EventId, true],                        // a boolean
            [spec.EventId],                              // too few
            [spec.EventId, joined.Ticket, "extra"],      // too many
            [],                                          // none
        ];
        foreach (var args in wrong)
        {
            var refused = await Assert.ThrowsAsync<HubException>(() => hub.Connection.InvokeCoreAsync<QueueResponse>("Follow", args, ct));
            Assert.Contains("HubException: invalid-arguments: 'Follow' takes 2 argument(s) (string, string).", refused.Message, StringComparison.Ordinal);
        }

        var unknown = await Assert.ThrowsAsync<HubException>(() => hub.Connection.InvokeCoreAsync<object>("Join", [spec.EventId], ct));
        Assert.Contains("HubException: unknown-method: The hub has no method 'Join'.", unknown.Message, StringComparison.Ordinal);

        // The JSON protocol the hub speaks is the wrapped one, and the only one (a later AddSignalR would
        // quietly register a plain one again).
        var protocols = Api.Factory.Services.GetRequiredService<IHubProtocolResolver>().AllProtocols;
        Assert.IsType<CodedBindingFailures>(Assert.Single(protocols));

        // Each refusal answered only its own call: the connection still follows.
        var followed = await hub.Follow(spec.EventId, joined.Ticket, ct);
        Assert.Equal(joined.TicketNumber, followed.TicketNumber);
    }

    [Fact]
    public async Task Cursor_messages_carry_the_pace_the_shopper_cap_allows()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec { AdmissionsPerMinute = 600 };
        await Api.CreateEvent(spec, ct);
        await Api.SetQueue(spec.EventId, new { paused = true, maxActiveShoppers = 2 }, ct);
        foreach (var ahead in await Api.RegisterMany(2, ct))
        {
            await ahead.Join(spec.EventId, ct);
        }

        var follower = await Api.Register(ct);
        var joined = await follower.Join(spec.EventId, ct);
        await using var hub = await QueueHubClient.Connect(Api.Factory, follower.Tokens.AccessToken, ct);
        await hub.Follow(spec.EventId, joined.Ticket, ct);

        await Api.SetQueue(spec.EventId, new { paused = false }, ct);
        var full = await hub.Next<CursorMessage>(m => m.ServingCursor == 2, ct);

        // Both slots are taken with the follower still waiting: the line moves at the pace slots free up
        // (the 2 admitted in the last minute), not at the configured 600.
        Assert.Equal(600, full.AdmissionsPerMinute);
        Assert.Equal(2, full.PacePerMinute);
        var me = await follower.Me(spec.EventId, ct);
        Assert.Equal(1, me.Position);
        Assert.Equal(30, me.EstimatedWaitSeconds);
    }

    [Fact]
    public async Task Unfollowing_another_event_is_refused_and_the_follower_is_still_admitted()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec { AdmissionsPerMinute = 600 };
        await Api.CreatePausedEvent(spec, ct);
        var follower = await Api.Register(ct);
        var joined = await follower.Join(spec.EventId, ct);
        await using var hub = await QueueHubClient.Connect(Api.Factory, follower.Tokens.AccessToken, ct);
        await hub.Follow(spec.EventId, joined.Ticket, ct);

        foreach (var other in new[] { "some-other-event", "", new string('e', 10_000) })
        {
            var refused = await Assert.ThrowsAsync<HubException>(() => hub.Connection.InvokeAsync("Unfollow", other, ct));
            Assert.Contains("HubException: not-following: ", refused.Message, StringComparison.Ordinal);
        }

        var nothing = await Assert.ThrowsAsync<HubException>(() => hub.Connection.InvokeAsync("Unfollow", (string?)null, ct));
        Assert.Contains("HubException: not-following: ", nothing.Message, StringComparison.Ordinal);

        // The refused calls left the follow as it was: the personal admission still arrives.
        await Api.SetQueue(spec.EventId, new { paused = false }, ct);
        var admitted = await hub.Next<AdmittedMessage>(_ => true, ct);
        Assert.Equal(joined.TicketNumber, admitted.TicketNumber);
    }

    [Fact]
    public async Task Unfollowing_the_followed_event_stops_its_messages()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec { AdmissionsPerMinute = 600 };
        await Api.CreatePausedEvent(spec, ct);
        var follower = await Api.Register(ct);
        var watcher = await Api.Register(ct);
        var joined = await follower.Join(spec.EventId, ct);
        var watched = await watcher.Join(spec.EventId, ct);
        await using var hub = await QueueHubClient.Connect(Api.Factory, follower.Tokens.AccessToken, ct);
        await using var watcherHub = await QueueHubClient.Connect(Api.Factory, watcher.Tokens.AccessToken, ct);
        await hub.Follow(spec.EventId, joined.Ticket, ct);
        await watcherHub.Follow(spec.EventId, watched.Ticket, ct);

        await hub.Connection.InvokeAsync("Unfollow", spec.EventId, ct);
        await Api.SetQueue(spec.EventId, new { paused = false }, ct);

        // The watcher, behind the follower, is admitted after the cursor passed both of them.
        await watcherHub.Next<AdmittedMessage>(_ => true, ct);
        // The unfollowed connection gets a moment for anything stray to arrive before it is checked.
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        var heard = hub.Drain();
        Assert.DoesNotContain(heard, m => m is AdmittedMessage);
        // Anything it heard came before the unfollow, while the queue stood still at 0.
        Assert.All(heard.OfType<CursorMessage>(), c => Assert.Equal(0, c.ServingCursor));
        Assert.Contains(watcherHub.Received.OfType<CursorMessage>(), c => c.ServingCursor >= 1);

        // Unfollowing twice: the second finds nothing followed.
        var again = await Assert.ThrowsAsync<HubException>(() => hub.Connection.InvokeAsync("Unfollow", spec.EventId, ct));
        Assert.Contains("HubException: not-following: ", again.Message, StringComparison.Ordinal);
    }
}

/// <summary>Live queue updates whose timing the test sets, on the fake clock.</summary>
public sealed class QueueHubOpeningTests(FakeClockFixture fixture) : IClassFixture<FakeClockFixture>
{
    private TestApi Api => fixture.Api;

    [Fact]
    public async Task Pre_queue_followers_are_told_their_drawn_ticket_when_sales_open_and_then_admitted()
    {
        var ct = TestContext.Current.CancellationToken;
        // On the fake clock, sales open only when the test says so: following first can take its time.
        var spec = new EventSpec { SalesOpenIn = TimeSpan.FromMinutes(1) };
        await Api.CreateEvent(spec, ct);

        List<(TestUser User, QueueHubClient Hub)> followers = [];
        using var ticking = new CancellationTokenSource();
        var ticker = Task.CompletedTask;
        try
        {
            foreach (var user in await Api.RegisterMany(3, ct))
            {
                var joined = await user.Join(spec.EventId, ct);
                Assert.Equal(QueueStatusKind.PreQueue, joined.Status);
                Assert.Null(joined.TicketNumber);
                var hub = await QueueHubClient.Connect(Api.Factory, user.Tokens.AccessToken, ct);
                followers.Add((user, hub));
                var followed = await hub.Follow(spec.EventId, joined.Ticket, ct);
                Assert.Equal(QueueStatusKind.PreQueue, followed.Status);
            }

            fixture.Clock.Advance(TimeSpan.FromMinutes(1));
            // The queue's ticks run on their timer; each moves the fake clock on by one tick's worth.
            ticker = Task.Run(async () =>
            {
                while (!ticking.IsCancellationRequested)
                {
                    fixture.Tick();
                    await Task.Delay(GatewayFactory.TickInterval, CancellationToken.None);
                }
            }, CancellationToken.None);
            var assigned = await Task.WhenAll(followers.Select(f => f.Hub.Next<TicketAssignedMessage>(_ => true, ct)));
            Assert.Equal([1L, 2L, 3L], assigned.Select(a => a.TicketNumber).Order());

            for (var i = 0; i < followers.Count; i++)
            {
                var (user, hub) = followers[i];
                var admitted = await hub.Next<AdmittedMessage>(_ => true, ct);
                Assert.Equal(assigned[i].TicketNumber, admitted.TicketNumber);
                Assert.Equal(assigned[i].TicketNumber, (await user.Me(spec.EventId, ct)).TicketNumber);
            }
        }
        finally
        {
            await ticking.CancelAsync();
            await ticker;
            foreach (var (_, hub) in followers)
            {
                await hub.DisposeAsync();
            }
        }
    }
}
