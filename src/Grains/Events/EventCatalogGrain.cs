using TicketQueue.Grains.Hosting;

namespace TicketQueue.Grains.Events;

[GenerateSerializer, Alias("tq.EventCatalogState")]
public sealed class EventCatalogState
{
    [Id(0)] public Dictionary<string, EventDefinition> Events { get; set; } = [];
}

/// <summary>
/// Every event's definition, in one grain. Reads (every reservation attempt, every gateway's readiness
/// probe) interleave with a create's write and see only what is stored, so a slow write holds up no sale.
/// </summary>
public sealed class EventCatalogGrain(
    [PersistentState("catalog", StorageNames.Events)] IPersistentState<EventCatalogState> state)
    : Grain, IEventCatalogGrain
{
    // What storage holds: replaced after each successful write, read by Get and List at any time.
    private Published _published = Published.Of(new Dictionary<string, EventDefinition>());

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _published = Published.Of(state.State.Events);
        return Task.CompletedTask;
    }

    public async Task<EventDefinition> Create(EventDefinition definition)
    {
        if (state.State.Events.TryGetValue(definition.EventId, out var existing))
        {
            // Repeating the same create is harmless; a different event under a taken id is not.
            return SameEvent(existing, definition)
                ? existing
                : throw DomainException.Conflict("event-exists", $"An event with id '{definition.EventId}' already exists.", "eventId");
        }

        await Add(definition);
        return definition;
    }

    public async Task<bool> CreateIfAbsent(EventDefinition definition)
    {
        if (state.State.Events.ContainsKey(definition.EventId))
        {
            return false;
        }

        await Add(definition);
        return true;
    }

    public Task<EventDefinition?> Get(string eventId) => Task.FromResult(_published.ById.GetValueOrDefault(eventId));

    public Task<IReadOnlyList<EventDefinition>> List() => Task.FromResult(_published.Ordered);

    private async Task Add(EventDefinition definition)
    {
        state.State.Events[definition.EventId] = definition;
        // Not stored, the activation goes: a retry is not answered "created" from memory (an event that
        // would vanish at the next activation, after selling tickets).
        await this.WriteOrLeave(state);

        _published = Published.Of(state.State.Events);
    }

    private static bool SameEvent(EventDefinition a, EventDefinition b) =>
        a with { Blocks = [] } == b with { Blocks = [] } && a.Blocks.SequenceEqual(b.Blocks);

    private sealed record Published(IReadOnlyDictionary<string, EventDefinition> ById, IReadOnlyList<EventDefinition> Ordered)
    {
        public static Published Of(IReadOnlyDictionary<string, EventDefinition> events) => new(
            new Dictionary<string, EventDefinition>(events),
            [.. events.Values.OrderBy(e => e.SalesOpenAt).ThenBy(e => e.EventId, StringComparer.Ordinal)]);
    }
}
