namespace TicketQueue.Grains.DomainEvents.Relay;

/// <summary>
/// Aggregates whose oldest unshipped event Kafka refused, each waiting out a back-off of its own, so that
/// one event Kafka will not take (too large, a topic it refuses) holds back its aggregate only, not the relay.
/// </summary>
/// <remarks>
/// A parked aggregate's later events wait behind the refused one (events leave in order), and the refused
/// event stays unpublished: it is retried after each back-off, never dropped, and the outbox lag alarm
/// reports it. Used by the relay's loop only (not thread-safe).
/// </remarks>
internal sealed class ParkedAggregates(TimeSpan initialBackoff, TimeSpan maxBackoff, int capacity)
{
    private readonly Dictionary<(string Type, string Id), (int Failures, DateTimeOffset Until)> _parked = [];

    public int Count => _parked.Count;

    /// <summary>Room for one more: a relay that would park more than this many is failing as a whole.</summary>
    public bool IsFull => _parked.Count >= capacity;

    /// <summary>Holds the aggregate back for a back-off that doubles with each refusal in a row.</summary>
    public TimeSpan Park(string type, string id, DateTimeOffset now)
    {
        var failures = _parked.TryGetValue((type, id), out var parked) ? parked.Failures + 1 : 1;
        var wait = DoublingBackoff.After(failures, initialBackoff, maxBackoff);
        _parked[(type, id)] = (failures, now + wait);
        return wait;
    }

    /// <summary>The aggregate's event was acknowledged: it ships like any other again.</summary>
    public void Release(string type, string id) => _parked.Remove((type, id));

    /// <summary>The aggregates that must not be read now (their back-off has not run out).</summary>
    public (string[] Types, string[] Ids) HeldAt(DateTimeOffset now)
    {
        var held = _parked.Where(p => p.Value.Until > now).Select(p => p.Key).ToList();
        return ([.. held.Select(h => h.Type)], [.. held.Select(h => h.Id)]);
    }

    /// <summary>Ownership moved: the aggregates of a partition given up are another relay's to retry.</summary>
    public void Clear() => _parked.Clear();
}

/// <summary>Doubling waits from an initial one, capped, with ±20 % jitter so relays do not retry in step.</summary>
internal static class DoublingBackoff
{
    public static TimeSpan After(int failures, TimeSpan initial, TimeSpan max)
    {
        var doubled = initial.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 20));
        var capped = Math.Min(doubled, max.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.8 + 0.4 * Random.Shared.NextDouble()));
    }
}
