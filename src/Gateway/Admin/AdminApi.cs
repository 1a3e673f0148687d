using Microsoft.AspNetCore.Http.HttpResults;
using TicketQueue.Gateway.Auth;
using TicketQueue.Gateway.Events;
using TicketQueue.Gateway.Problems;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Abstractions.Seats;

namespace TicketQueue.Gateway.Admin;

public sealed record CreateEventRequest(
    string? EventId, string? Name, string? Venue, DateTimeOffset? StartsAt, DateTimeOffset? SalesOpenAt,
    string? Currency, int? TicketLimitPerUser, IReadOnlyList<CreateBlockRequest?>? Blocks, QueueSettingsRequest? Queue);

public sealed record CreateBlockRequest(string? BlockId, string? Name, int? Rows, int? SeatsPerRow, decimal? Price);

public sealed record QueueSettingsRequest(
    int? AdmissionsPerMinute, int? MaxActiveShoppers, int? ClaimWindowSeconds, int? ShoppingSessionSeconds, int? HoldSeconds);

public sealed record UpdateQueueRequest(int? AdmissionsPerMinute, int? MaxActiveShoppers, bool? Paused);

public sealed record EventStats(
    string EventId, long Waiting, long Admitted, long ActiveShoppers, long Issued, long ServingCursor, long PreQueued,
    bool Opened, bool Paused, int AdmissionsPerMinute, int MaxActiveShoppers, int SeatsTotal, int SeatsHeld, int SeatsSold,
    string? QueueSilo);

public sealed record ClusterView(IReadOnlyList<SiloView> Silos);

public sealed record DomainEventLogView(IReadOnlyDictionary<string, long> Counts, IReadOnlyList<DomainEventView> Recent);

public sealed record DomainEventView(Guid Id, string Type, string AggregateType, string AggregateId, DateTimeOffset OccurredAt);

public sealed record SiloView(string Address, string Name, string Status, DateTimeOffset StartedAt);

public static class AdminApi
{
    private const int MaxSeatsPerBlock = 10_000;

    public static IEndpointRouteBuilder MapAdminApi(this IEndpointRouteBuilder routes)
    {
        var admin = routes.MapGroup("/api/admin/events").WithTags("Admin").RequireAuthorization(Roles.AdminPolicy);
        admin.MapPost("/", CreateEvent).ProducesProblem(400).ProducesProblem(409);
        admin.MapPut("/{eventId}/queue", UpdateQueue).ProducesProblem(400).ProducesProblem(404);
        admin.MapGet("/{eventId}/stats", Stats).ProducesProblem(404);
        routes.MapGet("/api/admin/cluster", Cluster).WithTags("Admin").RequireAuthorization(Roles.AdminPolicy);
        routes.MapGet("/api/admin/domain-events", DomainEvents).WithTags("Admin").RequireAuthorization(Roles.AdminPolicy)
            .ProducesProblem(400).ProducesProblem(404);
        return routes;
    }

    /// <summary>The silos of the cluster as its membership table has them: which are active, which are dead.</summary>
    private static async Task<Ok<ClusterView>> Cluster(IGrainFactory grains)
    {
        var hosts = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false);
        return TypedResults.Ok(new ClusterView(hosts
            .OrderBy(h => h.StartTime)
            .Select(h => new SiloView(h.SiloAddress.Endpoint.ToString(), h.SiloName, h.Status.ToString(), new DateTimeOffset(h.StartTime, TimeSpan.Zero)))
            .ToList()));
    }

    /// <summary>
    /// Embedded mode's in-process event log: counts per type since start and the newest events. In a
    /// cluster the events go to Kafka, which is where to read them.
    /// </summary>
    private static Ok<DomainEventLogView> DomainEvents(string? limit, IServiceProvider services)
    {
        // Read as text, so that "ten" gets the same named problem as 0 does.
        var take = limit is null ? 50
            : int.TryParse(limit, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n)
                ? Require.InRange<int>(n, "limit", 1, 1_000)
                : throw DomainException.Invalid("out-of-range", "'limit' must be a whole number from 1 to 1000.", "limit");
        var log = services.GetService<TicketQueue.Grains.DomainEvents.InProcessEventLog>()
            ?? throw DomainException.NotFound("event-log-not-here", "Domain events go to Kafka in cluster mode; read them from its topics (docs/events.md).");
        var recent = log.Recent();
        return TypedResults.Ok(new DomainEventLogView(
            log.Counts(),
            [.. recent.Skip(Math.Max(0, recent.Count - take)).Reverse().Select(e => new DomainEventView(e.EventId, e.Type, e.AggregateType, e.AggregateId, e.OccurredAt))]));
    }

    private static async Task<Created<EventDetail>> CreateEvent(CreateEventRequest? body, IGrainFactory grains, EventCache events, TimeProvider time)
    {
        var definition = Validate(Require.NotNull(body, "body"), time.GetUtcNow());
        await grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key).Create(definition);
        events.Invalidate(definition.EventId);
        return TypedResults.Created($"/api/events/{definition.EventId}", await EventsApi.Detail(definition, grains, time));
    }

    private static async Task<Ok<EventStats>> UpdateQueue(string eventId, UpdateQueueRequest? body, IGrainFactory grains, EventCache events)
    {
        var e = await events.Require(eventId);
        body = Require.NotNull(body, "body");
        if (body is { AdmissionsPerMinute: null, MaxActiveShoppers: null, Paused: null })
        {
            throw DomainException.Invalid("empty-update", "Send at least one of admissionsPerMinute, maxActiveShoppers, paused.", "admissionsPerMinute");
        }

        var update = new QueueSettingsUpdate(
            body.AdmissionsPerMinute is null ? null : Require.InRange(body.AdmissionsPerMinute, "admissionsPerMinute", 1, 1_000_000),
            body.MaxActiveShoppers is null ? null : Require.InRange(body.MaxActiveShoppers, "maxActiveShoppers", 1, 1_000_000),
            body.Paused);
        var queue = await grains.GetGrain<IEventQueueGrain>(eventId).UpdateSettings(update);
        return TypedResults.Ok(await StatsOf(e, queue, grains));
    }

    private static async Task<Ok<EventStats>> Stats(string eventId, IGrainFactory grains, EventCache events)
    {
        var e = await events.Require(eventId);
        var queue = await grains.GetGrain<IEventQueueGrain>(eventId).GetStats();
        return TypedResults.Ok(await StatsOf(e, queue, grains));
    }

    private static async Task<EventStats> StatsOf(EventDefinition e, QueueStats q, IGrainFactory grains)
    {
        var seats = await Task.WhenAll(e.Blocks.Select(b => SeatBlocks.For(grains, e.EventId, b.BlockId).GetCounts()));
        // Which silo hosts the event's queue grain, the one hot grain of an opening: operators watch it.
        var queueSilo = await grains.GetGrain<IManagementGrain>(0).GetActivationAddress(grains.GetGrain<IEventQueueGrain>(e.EventId));
        return new EventStats(e.EventId, q.Waiting, q.Admitted, q.ActiveShoppers, q.Issued, q.ServingCursor, q.PreQueued,
            q.Opened, q.Settings.Paused, q.Settings.AdmissionsPerMinute, q.Settings.MaxActiveShoppers,
            seats.Sum(s => s.Total), seats.Sum(s => s.Held), seats.Sum(s => s.Sold), queueSilo?.Endpoint.ToString());
    }

    /// <summary>How far ahead an event may start: further than any ticket sale plans.</summary>
    public static readonly TimeSpan MaxLeadTime = TimeSpan.FromDays(3653);

    public static EventDefinition Validate(CreateEventRequest body, DateTimeOffset now)
    {
        var name = Require.Text(body.Name, "name", 200);
        var eventId = body.EventId ?? $"{Slug(name)}-{Guid.NewGuid().ToString("N")[..6]}";
        if (!EventIds.IsValid(eventId))
        {
            throw DomainException.Invalid("invalid-event-id", "'eventId' must be 3 to 64 lowercase letters, digits or dashes, starting with a letter.", "eventId");
        }

        var venue = Require.Text(body.Venue, "venue", 200);
        var startsAt = Require.NotNull(body.StartsAt, "startsAt");
        var salesOpenAt = Require.NotNull(body.SalesOpenAt, "salesOpenAt");
        if (startsAt <= now)
        {
            throw DomainException.Invalid("starts-in-past", "'startsAt' has passed: an event that already started cannot be sold.", "startsAt");
        }

        if (startsAt > now + MaxLeadTime)
        {
            // Far enough out, the queue's own date arithmetic (sales close + session) overflows.
            throw DomainException.Invalid("starts-too-late", $"'startsAt' must be within {MaxLeadTime.Days / 365} years from now.", "startsAt");
        }

        if (salesOpenAt >= startsAt)
        {
            throw DomainException.Invalid("sales-after-start", "'salesOpenAt' must be before 'startsAt'.", "salesOpenAt");
        }

        var currency = body.Currency ?? "KRW";
        var minorUnit = Currencies.MinorUnit(currency)
            ?? throw DomainException.Invalid("invalid-currency", "'currency' must be an ISO 4217 currency code such as KRW or USD.", "currency");

        var limit = Require.InRange(body.TicketLimitPerUser, "ticketLimitPerUser", 1, 20);
        var blocks = Require.NotNull(body.Blocks, "blocks");
        if (blocks.Count is < 1 or > 50)
        {
            throw DomainException.Invalid("out-of-range", "An event has 1 to 50 blocks.", "blocks");
        }

        var blockDefinitions = blocks.Select((b, i) => ValidateBlock(b, $"blocks[{i}]", currency, minorUnit)).ToList();
        if (blockDefinitions.Select(b => b.BlockId).Distinct().Count() != blockDefinitions.Count)
        {
            throw DomainException.Invalid("duplicate-block", "Block ids must be unique.", "blocks");
        }

        var q = Require.NotNull(body.Queue, "queue");
        var session = Require.InRange(q.ShoppingSessionSeconds, "queue.shoppingSessionSeconds", 60, 7200);
        var settings = new QueueSettings(
            Require.InRange(q.AdmissionsPerMinute, "queue.admissionsPerMinute", 1, 1_000_000),
            Require.InRange(q.MaxActiveShoppers, "queue.maxActiveShoppers", 1, 1_000_000),
            TimeSpan.FromSeconds(Require.InRange(q.ClaimWindowSeconds, "queue.claimWindowSeconds", 10, session)),
            TimeSpan.FromSeconds(session),
            TimeSpan.FromSeconds(Require.InRange(q.HoldSeconds, "queue.holdSeconds", 30, 3600)));

        return new EventDefinition(eventId, name, venue, startsAt, salesOpenAt, currency, limit, blockDefinitions, settings);
    }

    private static SeatBlockDefinition ValidateBlock(CreateBlockRequest? block, string path, string currency, int minorUnit)
    {
        block = Require.NotNull(block, path);
        var blockId = Require.Text(block.BlockId, $"{path}.blockId", 32);
        if (!blockId.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
        {
            throw DomainException.Invalid("invalid-block-id", "Block ids are lowercase letters, digits and dashes.", $"{path}.blockId");
        }

        var rows = Require.InRange(block.Rows, $"{path}.rows", 1, 200);
        var perRow = Require.InRange(block.SeatsPerRow, $"{path}.seatsPerRow", 1, 200);
        if (rows * perRow > MaxSeatsPerBlock)
        {
            throw DomainException.Invalid("block-too-large", $"A block holds at most {MaxSeatsPerBlock} seats; split it.", $"{path}.rows");
        }

        var price = Require.InRange(block.Price, $"{path}.price", 0m, 100_000_000m);
        if (!Currencies.Fits(price, minorUnit))
        {
            throw DomainException.Invalid("price-precision",
                $"'{path}.price' has more decimals than {currency} allows ({minorUnit}).", $"{path}.price");
        }
        return new SeatBlockDefinition(blockId, Require.Text(block.Name, $"{path}.name", 100), rows, perRow, price);
    }

    private static string Slug(string name)
    {
        var slug = new string([.. name.ToLowerInvariant().Select(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) ? c : '-')]);
        slug = string.Join('-', slug.Split('-', StringSplitOptions.RemoveEmptyEntries));
        slug = slug.Length > 40 ? slug[..40].TrimEnd('-') : slug;
        return slug.Length > 0 && char.IsAsciiLetterLower(slug[0]) ? slug : "event-" + slug;
    }
}
