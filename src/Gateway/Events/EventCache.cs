using System.Collections.Concurrent;

namespace TicketQueue.Gateway.Events;

/// <summary>
/// Event definitions as this gateway last read them. Definitions change only when an admin creates an
/// event, so a few seconds of staleness is fine and spares the catalogue grain a call per request.
/// </summary>
public sealed class EventCache(IGrainFactory grains, TimeProvider time)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<string, (EventDefinition Definition, DateTimeOffset ReadAt)> _events = new(StringComparer.Ordinal);

    private IEventCatalogGrain Catalog => grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key);

    public async Task<EventDefinition> Require(string eventId)
    {
        if (eventId.Length > EventIds.MaxLength)
        {
            throw NotFound(eventId);
        }

        var now = time.GetUtcNow();
        if (_events.TryGetValue(eventId, out var cached) && now - cached.ReadAt < Lifetime)
        {
            return cached.Definition;
        }

        // Misses are not cached: anyone can ask for made-up ids, and each would stay in the map forever.
        var definition = await Catalog.Get(eventId) ?? throw NotFound(eventId);
        _events[eventId] = (definition, now);
        return definition;
    }

    public void Invalidate(string eventId) => _events.TryRemove(eventId, out _);

    private static DomainException NotFound(string eventId) =>
        DomainException.NotFound("event-not-found", $"There is no event '{EventIds.Shown(eventId)}'.");
}

public static class EventIds
{
    public const int MaxLength = 64;

    /// <summary>Event ids are URL slugs: lowercase letters, digits and dashes, starting with a letter.</summary>
    public static bool IsValid(string id) =>
        id.Length is >= 3 and <= MaxLength && char.IsAsciiLetterLower(id[0])
        && id.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-');

    /// <summary>An id as an error message may quote it: whatever the client sent, cut to the longest valid length.</summary>
    public static string Shown(string? id) =>
        id is null ? "" : id.Length > MaxLength ? id[..MaxLength] + "…" : id;
}
