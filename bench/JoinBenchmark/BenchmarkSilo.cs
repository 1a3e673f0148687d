using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Storage;
using TicketQueue.Bench;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Queue;

namespace TicketQueue.JoinBenchmark;

/// <summary>The silo under test: TicketQueue's own configuration, with the storage the command line chose.</summary>
internal static class BenchmarkSilo
{
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
                silo.AddPostgresStorageSilo(configuration, options.Postgres);
                break;

            default:
                throw new ArgumentOutOfRangeException(nameof(options), options.Storage, "Unknown storage.");
        }

        return silo;
    }
}
