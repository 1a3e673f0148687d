using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Storage;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Queue;

namespace TicketQueue.JoinBenchmark;

/// <summary>The silo under test: TicketQueue's own configuration, with the storage the command line chose.</summary>
internal static class BenchmarkSilo
{
    // AddTicketQueueGrains in cluster mode reads a Redis connection string for its reminders, which the
    // benchmark replaces with in-memory ones; this name cannot resolve, so any use of it would fail loudly.
    private const string UnusedRedis = "redis.unused-by-join-benchmark.invalid:6379";

    public static ISiloBuilder AddBenchmarkSilo(this ISiloBuilder silo, IConfiguration configuration, BenchmarkOptions options)
    {
        switch (options.Storage)
        {
            case BenchmarkStorage.Memory:
                silo.AddTicketQueue(configuration);
                break;

            case BenchmarkStorage.Discard:
                silo.AddTicketQueue(configuration);
                // The last registration wins: grain state and queue records now go nowhere.
                foreach (var name in StorageNames.Schemas.Keys)
                {
                    silo.Services.AddKeyedSingleton<IGrainStorage>(name, (_, _) => new DiscardGrainStorage());
                }

                silo.Services.AddSingleton<IQueueEntryStore, DiscardQueueEntryStore>();
                break;

            case BenchmarkStorage.Postgres:
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
                silo.UseInMemoryReminderService();
                break;

            default:
                throw new ArgumentOutOfRangeException(nameof(options), options.Storage, "Unknown storage.");
        }

        return silo;
    }
}
