using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace TicketQueue.Grains.Tests.ClockSkew;

/// <summary>
/// Which silo a grain is activated on, as a test says: so a test can put a queue and its shard, or a
/// reservation and its seat block, on silos whose clocks disagree. Grains no rule names go to silo 0.
/// </summary>
public sealed class GrainPins
{
    private readonly Lock _lock = new();
    private readonly List<(Func<GrainId, bool> Matches, int Silo)> _rules = [];
    private readonly Dictionary<GrainId, int> _placed = [];
    private IReadOnlyList<SiloAddress> _silos = [];

    /// <summary>Activates <paramref name="grain"/> on silo <paramref name="silo"/> from its next activation.</summary>
    public void Pin(IAddressable grain, int silo)
    {
        var id = grain.GetGrainId();
        Pin(candidate => candidate == id, silo);
    }

    /// <summary>Activates every grain of <paramref name="sample"/>'s type on silo <paramref name="silo"/>.</summary>
    public void PinAllLike(IAddressable sample, int silo)
    {
        var type = sample.GetGrainId().Type;
        Pin(candidate => candidate.Type == type, silo);
    }

    /// <summary>Forgets every rule (not where grains already run).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _rules.Clear();
        }
    }

    /// <summary>The silo <paramref name="grain"/> was last activated on, by this director.</summary>
    public int? PlacedOn(IAddressable grain)
    {
        lock (_lock)
        {
            return _placed.TryGetValue(grain.GetGrainId(), out var silo) ? silo : null;
        }
    }

    internal void Deployed(IReadOnlyList<SiloAddress> silos) => _silos = silos;

    internal SiloAddress Place(GrainId id, SiloAddress[] compatible)
    {
        lock (_lock)
        {
            // The newest rule that names the grain wins.
            int? pinned = null;
            for (var i = _rules.Count - 1; i >= 0; i--)
            {
                if (_rules[i].Matches(id))
                {
                    pinned = _rules[i].Silo;
                    break;
                }
            }

            if (_silos.Count == 0)
            {
                // The silos' own start-up, before the cluster runs: anywhere that can take it.
                return compatible[0];
            }

            var silo = pinned ?? 0;
            var address = _silos[silo];
            if (!compatible.Contains(address))
            {
                if (pinned is null)
                {
                    // Storage, catalog and reminder grains, while the silos stop: anywhere that can take them.
                    return compatible[0];
                }

                // A test whose grain ran elsewhere would be testing nothing.
                throw new InvalidOperationException($"{id} is pinned to silo {silo} ({address}), which cannot take it now; these can: {string.Join(", ", compatible.AsEnumerable())}.");
            }

            _placed[id] = silo;
            return address;
        }
    }

    private void Pin(Func<GrainId, bool> matches, int silo)
    {
        lock (_lock)
        {
            _rules.Add((matches, silo));
        }
    }
}

/// <summary>Places every grain of the default placement where <see cref="GrainPins"/> says.</summary>
internal sealed class PinnedPlacementDirector(GrainPins pins) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context) =>
        Task.FromResult(pins.Place(target.GrainIdentity, context.GetCompatibleSilos(target)));
}
