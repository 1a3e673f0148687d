using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Runtime;

namespace TicketQueue.Grains.Tests.ClockSkew;

/// <summary>
/// Two silos whose clocks disagree: the grains of silo <see cref="OnTime"/> read the fixture's clock,
/// those of silo <see cref="Behind"/> the same clock <see cref="Skew"/> behind. Tests pin the grains of a
/// scenario to either (<see cref="Pins"/>); everything else runs on silo <see cref="OnTime"/>.
/// </summary>
public sealed class SkewedClusterFixture : ClusterFixture
{
    public const int OnTime = 0;
    public const int Behind = 1;

    /// <summary>More than the test events' claim window (2 min), less than their hold (5 min).</summary>
    public static readonly TimeSpan Skew = TimeSpan.FromMinutes(3);

    public GrainPins Pins { get; } = new();

    protected override short SiloCount => 2;

    protected override TimeProvider ClockOf(int silo) => silo == OnTime ? Clock : new OffsetClock(Clock, -Skew);

    protected override void ConfigureSilo(int silo, ISiloBuilder builder)
    {
        builder.Services.AddSingleton(Pins);
        // Our grains have no placement attribute: they take Orleans' default, whose director this replaces.
        builder.Services.AddPlacementDirector<ResourceOptimizedPlacement, PinnedPlacementDirector>();
    }

    protected override void Deployed(IReadOnlyList<SiloAddress> silos) => Pins.Deployed(silos);
}

// Run alone: two clusters at once on a 2-core machine would stretch the tests' real-time waits.
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SkewedClusterCollection : ICollectionFixture<SkewedClusterFixture>
{
    public const string Name = "skewed-cluster";
}
