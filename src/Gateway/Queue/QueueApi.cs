using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using TicketQueue.Gateway.Auth;
using TicketQueue.Gateway.Events;
using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.Gateway.Queue;

/// <summary>A place in line as the browser sees it.</summary>
public sealed record QueueResponse(
    string EventId,
    string EventName,
    string Ticket,
    long? TicketNumber,
    long? Position,
    long? EstimatedWaitSeconds,
    QueueStatusKind Status,
    long ServingCursor,
    DateTimeOffset SalesOpenAt,
    bool Paused,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? AdmissionToken = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] DateTimeOffset? AdmissionExpiresAt = null,
    bool SalesClosed = false);

public static class QueueApi
{
    public static IEndpointRouteBuilder MapQueueApi(this IEndpointRouteBuilder routes)
    {
        var queue = routes.MapGroup("/api/events/{eventId}/queue").WithTags("Queue").RequireAuthorization();
        queue.MapPost("/", Join).ProducesProblem(404).ProducesProblem(409);
        queue.MapGet("/me", Me).ProducesProblem(404);
        queue.MapDelete("/me", Leave).ProducesProblem(404);
        return routes;
    }

    private static async Task<Ok<QueueResponse>> Join(string eventId, HttpContext http, EventCache events, IGrainFactory grains, QueueTokens tokens, TimeProvider time)
    {
        var definition = await events.Require(eventId);
        if (definition.SalesClosedAt(time.GetUtcNow()))
        {
            throw definition.SalesClosed();
        }

        var userId = http.User.UserId();
        var status = await QueueShards.For(grains, eventId, userId).Join(userId);
        return TypedResults.Ok(ToResponse(status, definition.Name, userId, tokens));
    }

    private static async Task<Ok<QueueResponse>> Me(string eventId, HttpContext http, EventCache events, IGrainFactory grains, QueueTokens tokens)
    {
        var definition = await events.Require(eventId);
        var userId = http.User.UserId();
        // Reading one's admission is what "showing up" means: it claims the shopper's slot.
        var status = await QueueShards.For(grains, eventId, userId).Claim(userId) ?? throw NotInQueue();
        return TypedResults.Ok(ToResponse(status, definition.Name, userId, tokens));
    }

    private static async Task<NoContent> Leave(string eventId, HttpContext http, EventCache events, IGrainFactory grains)
    {
        await events.Require(eventId);
        var userId = http.User.UserId();
        return await QueueShards.For(grains, eventId, userId).Leave(userId) ? TypedResults.NoContent() : throw NotInQueue();
    }

    /// <summary>The answer for the browser; the event's name comes along so the waiting page needs no other request.</summary>
    public static QueueResponse ToResponse(QueueStatus status, string eventName, Guid userId, QueueTokens tokens)
    {
        var admitted = status is { Status: QueueStatusKind.Admitted, SessionExpiresAt: { } expiresAt };
        return new QueueResponse(
            status.EventId,
            eventName,
            tokens.SignTicket(status.EventId, userId, status.Place),
            status.TicketNumber,
            status.Position,
            status.EstimatedWaitSeconds,
            status.Status,
            status.ServingCursor,
            status.SalesOpenAt,
            status.Paused,
            admitted ? tokens.SignAdmission(status.EventId, userId, status.SessionExpiresAt!.Value) : null,
            admitted ? status.SessionExpiresAt : null,
            status.SalesClosed);
    }

    private static DomainException NotInQueue() => DomainException.NotFound("not-in-queue", "You are not in this event's queue.");
}
