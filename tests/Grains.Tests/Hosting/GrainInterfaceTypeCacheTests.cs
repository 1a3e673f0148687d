using Microsoft.Extensions.DependencyInjection;
using Orleans.Metadata;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Grains.Tests.Hosting;

[Collection(ClusterCollection.Name)]
public sealed class GrainInterfaceTypeCacheTests(ClusterFixture fixture)
{
    private IServiceProvider Silo => fixture.Cluster.Silos[0].ServiceProvider;

    [Fact]
    public void The_cache_is_asked_before_every_other_provider()
    {
        // The resolver asks providers in order and stops at the first answer: anywhere else, the slow
        // reflective lookup would run first and the cache would never be reached.
        Assert.IsType<GrainInterfaceTypeCache>(Silo.GetServices<IGrainInterfaceTypeProvider>().First());
    }

    [Fact]
    public void Every_grain_interface_keeps_the_name_Orleans_gives_it()
    {
        var resolver = Silo.GetRequiredService<GrainInterfaceTypeResolver>();
        var interfaces = typeof(IEventQueueGrain).Assembly.GetTypes()
            .Where(t => t.IsInterface && typeof(IAddressable).IsAssignableFrom(t) && !t.ContainsGenericParameters)
            .ToList();

        var fresh = new GrainInterfaceTypeCache(Silo);

        Assert.NotEmpty(interfaces);
        foreach (var type in interfaces)
        {
            // None of ours carries a [GrainInterfaceType] name, so Orleans names them by convention.
            var expected = resolver.GetGrainInterfaceTypeByConvention(type);
            Assert.Equal(expected, resolver.GetGrainInterfaceType(type));
            // A cache meeting the interface for the first time, and then answering from memory.
            Assert.True(fresh.TryGetGrainInterfaceType(type, out var first));
            Assert.True(fresh.TryGetGrainInterfaceType(type, out var remembered));
            Assert.Equal(expected, first);
            Assert.Equal(expected, remembered);
        }
    }
}
