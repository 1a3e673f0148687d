using Microsoft.AspNetCore.Http.HttpResults;
using TicketQueue.Gateway.Problems;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Abstractions.Seats;

namespace TicketQueue.Gateway.Events;

public sealed record EventSummary(
    string EventId, string Name, string Venue, DateTimeOffset StartsAt, DateTimeOffset SalesOpenAt,
    bool OnSale, string Currency, int TicketLimitPerUser);

public sealed record BlockResponse(
    string BlockId, string Name, int Rows, int SeatsPerRow, decimal Price, int TotalSeats, int AvailableSeats);

public sealed record QueueSettingsResponse(
    int AdmissionsPerMinute, int MaxActiveShoppers, int ClaimWindowSeconds, int ShoppingSessionSeconds, int HoldSeconds);

public sealed record EventDetail(
    string EventId, string Name, string Venue, DateTimeOffset StartsAt, DateTimeOffset SalesOpenAt,
    bool OnSale, string Currency, int TicketLimitPerUser, IReadOnlyList<BlockResponse> Blocks, QueueSettingsResponse Queue);

public static class EventsApi
{
    public static IEndpointRouteBuilder MapEventsApi(this IEndpointRouteBuilder routes)
    {
        var events = routes.MapGroup("/api/events").WithTags("Events");
        events.MapGet("/", List);
        events.MapGet("/{eventId}", Get).ProducesProblem(404);
        events.MapGet("/{eventId}/blocks/{blockId}/seats", Seats).ProducesProblem(404);
        return routes;
    }

    private static async Task<Ok<IReadOnlyList<EventSummary>>> List(IGrainFactory grains, TimeProvider time, HttpResponse response)
    {
        // The same for everyone and changed only by admins: browsers and CDNs may keep it a few seconds,
        // which spares the catalogue grain when a crowd's waiting pages each ask for an event's name.
        response.Headers.CacheControl = "public, max-age=5";
        var now = time.GetUtcNow();
        var events = await grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key).List();
        return TypedResults.Ok<IReadOnlyList<EventSummary>>([.. events.Select(e => new EventSummary(
            e.EventId, e.Name, e.Venue, e.StartsAt, e.SalesOpenAt, e.OnSaleAt(now), e.Currency, e.TicketLimitPerUser))]);
    }

    private static async Task<Ok<EventDetail>> Get(string eventId, EventCache events, IGrainFactory grains, TimeProvider time)
    {
        var e = await events.Require(eventId);
        return TypedResults.Ok(await Detail(e, grains, time));
    }

    public static async Task<EventDetail> Detail(EventDefinition e, IGrainFactory grains, TimeProvider time)
    {
        var counts = await Task.WhenAll(e.Blocks.Select(b => SeatBlocks.For(grains, e.EventId, b.BlockId).GetCounts()));
        var blocks = e.Blocks.Zip(counts, (b, c) => new BlockResponse(b.BlockId, b.Name, b.Rows, b.SeatsPerRow, b.Price, c.Total, c.Available));
        // The queue grain holds the live settings (admins change rate and bound there).
        var q = (await grains.GetGrain<IEventQueueGrain>(e.EventId).GetStats()).Settings;
        return new EventDetail(e.EventId, e.Name, e.Venue, e.StartsAt, e.SalesOpenAt, e.OnSaleAt(time.GetUtcNow()),
            e.Currency, e.TicketLimitPerUser, [.. blocks],
            new QueueSettingsResponse(q.AdmissionsPerMinute, q.MaxActiveShoppers, (int)q.ClaimWindow.TotalSeconds,
                (int)q.ShoppingSession.TotalSeconds, (int)q.HoldDuration.TotalSeconds));
    }

    private static async Task<Ok<IReadOnlyList<SeatView>>> Seats(string eventId, string blockId, EventCache events, IGrainFactory grains)
    {
        var e = await events.Require(eventId);
        if (e.FindBlock(blockId) is null)
        {
            throw DomainException.NotFound("block-not-found", $"Event '{eventId}' has no block with that id.");
        }

        return TypedResults.Ok(await SeatBlocks.For(grains, eventId, blockId).GetSeats());
    }
}
