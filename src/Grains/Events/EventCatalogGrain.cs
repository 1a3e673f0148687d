using TicketQueue.Grains.Hosting;

namespace TicketQueue.Grains.Events;

[GenerateSerializer, Alias("tq.EventCatalogState")]
public sealed class EventCatalogState
{
    [Id(0)] public Dictionary<string, EventDefinition> Events { get; set; } = [];
}

public sealed class EventCatalogGrain(
    [PersistentState("catalog", StorageNames.Events)] IPersistentState<EventCatalogState> state)
    : Grain, IEventCatalogGrain
{
    public async Task<EventDefinition> Create(EventDefinition definition)
    {
        if (state.State.Events.TryGetValue(definition.EventId, out var existing))
        {
            // Repeating the same create is harmless; a different event under a taken id is not.
            return SameEvent(existing, definition)
                ? existing
                : throw DomainException.Conflict("event-exists", $"An event with id '{definition.EventId}' already exists.", "eventId");
        }

        state.State.Events[definition.EventId] = definition;
        await state.WriteStateAsync();
        return definition;
    }

    public async Task<bool> CreateIfAbsent(EventDefinition definition)
    {
        if (state.State.Events.ContainsKey(definition.EventId))
        {
            return false;
        }

        state.State.Events[definition.EventId] = definition;
        await state.WriteStateAsync();
        return true;
    }

    public Task<EventDefinition?> Get(string eventId) =>
        Task.FromResult(state.State.Events.GetValueOrDefault(eventId));

    public Task<IReadOnlyList<EventDefinition>> List() =>
        Task.FromResult<IReadOnlyList<EventDefinition>>(
            [.. state.State.Events.Values.OrderBy(e => e.SalesOpenAt).ThenBy(e => e.EventId, StringComparer.Ordinal)]);

    private static bool SameEvent(EventDefinition a, EventDefinition b) =>
        a with { Blocks = [] } == b with { Blocks = [] } && a.Blocks.SequenceEqual(b.Blocks);
}
