using Microsoft.Extensions.Configuration;
using Orleans.Hosting;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Bench;

/// <summary>
/// One silo with the cluster's storage (grain state and queue records in PostgreSQL) but no cluster
/// around it: a single process needs no Redis membership.
/// </summary>
internal static class PostgresSilo
{
    // AddTicketQueueGrains in cluster mode reads a Redis connection string for its reminders, which this
    // silo replaces with in-memory ones; this name cannot resolve, so any use of it would fail loudly.
    private const string UnusedRedis = "redis.unused-by-benchmarks.invalid:6379";

    public static ISiloBuilder AddPostgresStorageSilo(this ISiloBuilder silo, IConfiguration configuration, string? postgres)
    {
        // Clustering as an embedded silo (localhost, the configuration's free ports), grains and their
        // storage as a cluster silo.
        silo.AddTicketQueueClustering(configuration);
        silo.AddTicketQueueGrains(new ConfigurationBuilder()
            .AddConfiguration(configuration)
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                [ClusterSettings.ModeKey] = nameof(HostingMode.Cluster),
                ["ConnectionStrings:Postgres"] = postgres,
                ["ConnectionStrings:Redis"] = UnusedRedis,
            })
            .Build());
        // Registered after the Redis reminder table, so this one is resolved (the header prints which).
        return silo.UseInMemoryReminderService();
    }
}
