using TicketQueue.Grains.Abstractions.DomainEvents;

namespace TicketQueue.Grains.DomainEvents;

/// <summary>
/// The embedded stack's event sink: the most recent events in memory, each kept once by id, and a count
/// per type since start. Tests and the admin API read it; nothing leaves the process.
/// </summary>
public sealed class InProcessEventLog : IDomainEventOutbox
{
    /// <summary>Events kept for reading (a few megabytes at most); older ones are dropped, their counts stay.</summary>
    public const int Capacity = 10_000;

    private readonly LinkedList<DomainEvent> _recent = new();
    private readonly Dictionary<Guid, LinkedListNode<DomainEvent>> _byId = [];
    private readonly Dictionary<string, long> _counts = new(StringComparer.Ordinal);

    public Task Append(IReadOnlyList<DomainEvent> events, CancellationToken cancellationToken)
    {
        lock (_recent)
        {
            foreach (var e in events)
            {
                if (_byId.ContainsKey(e.EventId))
                {
                    continue;
                }

                _byId[e.EventId] = _recent.AddLast(e);
                _counts[e.Type] = _counts.GetValueOrDefault(e.Type) + 1;
                if (_recent.Count > Capacity)
                {
                    _byId.Remove(_recent.First!.Value.EventId);
                    _recent.RemoveFirst();
                }
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>The kept events, oldest first.</summary>
    public IReadOnlyList<DomainEvent> Recent()
    {
        lock (_recent)
        {
            return [.. _recent];
        }
    }

    /// <summary>How many events of each type were recorded since the process started.</summary>
    public IReadOnlyDictionary<string, long> Counts()
    {
        lock (_recent)
        {
            return new Dictionary<string, long>(_counts);
        }
    }
}
