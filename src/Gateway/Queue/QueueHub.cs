using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using TicketQueue.Gateway.Auth;
using TicketQueue.Gateway.Events;
using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.Gateway.Queue;

/// <summary>What the hub pushes to browsers.</summary>
public interface IQueueClient
{
    /// <summary>To everyone following an event, once per tick that moved the cursor: position = ticket − cursor.</summary>
    Task Cursor(CursorMessage message);

    /// <summary>To one follower, when the cursor passes their ticket.</summary>
    Task Admitted(AdmittedMessage message);

    /// <summary>To a pre-queue follower when sales open and the draw gives them a ticket number.</summary>
    Task TicketAssigned(TicketAssignedMessage message);
}

/// <param name="AdmissionsPerMinute">The configured admission rate.</param>
/// <param name="PacePerMinute">How fast the line actually moves: the rate, or less while every shopping slot is taken.</param>
public sealed record CursorMessage(string EventId, long ServingCursor, long LastIssued, bool Opened, bool Paused, double AdmissionsPerMinute, double PacePerMinute, bool SalesClosed = false);

public sealed record AdmittedMessage(string EventId, long TicketNumber, string AdmissionToken, DateTimeOffset AdmissionExpiresAt);

public sealed record TicketAssignedMessage(string EventId, long TicketNumber, long Position);

/// <summary>
/// The live queue at /hubs/queue. A browser calls <c>Follow(eventId, ticket)</c> with the ticket it got
/// from the join; it then hears the cursor once per tick and a personal message when admitted.
/// </summary>
[Authorize]
public sealed class QueueHub(QueueFanout fanout, EventCache events, IGrainFactory grains, QueueTokens tokens) : Hub<IQueueClient>
{
    private const string FollowedEventKey = "followedEvent";

    // Arguments are nullable: nothing stops a client from sending null.
    public async Task<QueueResponse> Follow(string? eventId, string? ticket)
    {
        var e = await events.Require(eventId ?? "");
        var userId = Context.User!.UserId();
        var verified = tokens.VerifyTicket(ticket, e.EventId, userId);

        // The shard's record is the truth (the ticket may be stale after leaving and rejoining).
        var status = await QueueShards.For(grains, e.EventId, userId).Claim(userId);
        if (status is null || status.Place != verified.Place)
        {
            throw new DomainException(DomainErrorKind.Forbidden, "ticket-stale", "This ticket is no longer your place in the queue; join again.", "ticket");
        }

        // One connection follows one event: following another leaves the first one's group.
        if (Context.Items.TryGetValue(FollowedEventKey, out var previous) && previous is string previousEvent && previousEvent != e.EventId)
        {
            await Groups.RemoveFromGroupAsync(Context.ConnectionId, fanout.GroupName(previousEvent));
        }

        Context.Items[FollowedEventKey] = e.EventId;
        await Groups.AddToGroupAsync(Context.ConnectionId, fanout.GroupName(e.EventId));
        await fanout.Follow(e.EventId, Context.ConnectionId, userId, status);
        if (status.Status is QueueStatusKind.Waiting or QueueStatusKind.PreQueue)
        {
            // An admission between the claim above and the subscription reached no one; from now on
            // every admission is pushed, so one more look covers the gap.
            status = await QueueShards.For(grains, e.EventId, userId).Claim(userId) ?? status;
        }

        return QueueApi.ToResponse(status, e.Name, userId, tokens);
    }

    /// <summary>Stops following the event this connection follows; naming any other event is refused and changes nothing.</summary>
    public async Task Unfollow(string? eventId)
    {
        if (!Context.Items.TryGetValue(FollowedEventKey, out var followed) || followed is not string followedEvent || followedEvent != eventId)
        {
            throw DomainException.NotFound("not-following", $"This connection does not follow the event '{EventIds.Shown(eventId)}'.");
        }

        Context.Items.Remove(FollowedEventKey);
        await Groups.RemoveFromGroupAsync(Context.ConnectionId, fanout.GroupName(followedEvent));
        fanout.Unfollow(Context.ConnectionId);
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        fanout.Unfollow(Context.ConnectionId);
        return base.OnDisconnectedAsync(exception);
    }
}
