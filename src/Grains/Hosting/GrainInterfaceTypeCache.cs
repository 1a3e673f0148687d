using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Metadata;
using Orleans.Serialization.TypeSystem;

namespace TicketQueue.Grains.Hosting;

/// <summary>
/// Remembers each grain interface's <see cref="GrainInterfaceType"/>. Orleans 10.4's
/// <see cref="GrainInterfaceTypeResolver"/> works it out again on every <c>GetGrain</c>: it reads the
/// interface's attributes by reflection and then formats its name through the type converter. That was
/// about 7 % of the CPU of a rush of seat purchases (a <c>perf</c> profile of bench/ReservationBenchmark),
/// where every attempt makes four or five grain references. Registered first among the providers, this
/// one answers from a dictionary, and asks a resolver of the other providers the first time it meets an
/// interface, so the names are exactly those Orleans would have chosen.
/// </summary>
public sealed class GrainInterfaceTypeCache(IServiceProvider services) : IGrainInterfaceTypeProvider
{
    private readonly ConcurrentDictionary<Type, GrainInterfaceType> _known = new();
    private GrainInterfaceTypeResolver? _resolver;

    public bool TryGetGrainInterfaceType(Type type, out GrainInterfaceType grainInterfaceType)
    {
        if (!_known.TryGetValue(type, out grainInterfaceType))
        {
            // Made on first use: at construction the other providers may not all be resolvable yet.
            _resolver ??= new GrainInterfaceTypeResolver(
                services.GetServices<IGrainInterfaceTypeProvider>().Where(p => p is not GrainInterfaceTypeCache),
                services.GetRequiredService<TypeConverter>());
            grainInterfaceType = _known.GetOrAdd(type, _resolver.GetGrainInterfaceType(type));
        }

        return true;
    }
}

public static class GrainInterfaceTypeCacheRegistration
{
    /// <summary>
    /// Puts <see cref="GrainInterfaceTypeCache"/> ahead of every other grain interface type provider (the
    /// resolver asks them in registration order). For silos and clients alike.
    /// </summary>
    public static IServiceCollection AddGrainInterfaceTypeCache(this IServiceCollection services)
    {
        if (!services.Any(d => d.ImplementationType == typeof(GrainInterfaceTypeCache)))
        {
            services.Insert(0, ServiceDescriptor.Singleton<IGrainInterfaceTypeProvider, GrainInterfaceTypeCache>());
        }

        return services;
    }
}
