using Microsoft.Extensions.Configuration;
using Orleans.Hosting;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.ReservationBenchmark;

/// <summary>The silo under test: TicketQueue's own configuration, with the storage the command line chose.</summary>
internal static class BenchmarkSilo
{
    // AddTicketQueueGrains in cluster mode reads a Redis connection string for its reminders, which the
    // benchmark replaces with in-memory ones; this name cannot resolve, so any use of it would fail loudly.
    private const string UnusedRedis = "redis.unused-by-reservation-benchmark.invalid:6379";

    public static ISiloBuilder AddBenchmarkSilo(this ISiloBuilder silo, IConfiguration configuration, BenchmarkOptions options)
    {
        if (options.Storage == BenchmarkStorage.Memory)
        {
            return silo.AddTicketQueue(configuration);
        }

        // One process needs no Redis membership: clustering as an embedded silo (localhost, the
        // configuration's free ports), grains and their storage as a cluster silo.
        silo.AddTicketQueueClustering(configuration);
        silo.AddTicketQueueGrains(new ConfigurationBuilder()
            .AddConfiguration(configuration)
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                [ClusterSettings.ModeKey] = nameof(HostingMode.Cluster),
                ["ConnectionStrings:Postgres"] = options.Postgres,
                ["ConnectionStrings:Redis"] = UnusedRedis,
            })
            .Build());
        // Registered after the Redis reminder table, so this one is resolved (the header prints which).
        return silo.UseInMemoryReminderService();
    }
}
