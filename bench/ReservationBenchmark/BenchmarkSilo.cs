using Microsoft.Extensions.Configuration;
using Orleans.Hosting;
using TicketQueue.Bench;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.ReservationBenchmark;

/// <summary>The silo under test: TicketQueue's own configuration, with the storage the command line chose.</summary>
internal static class BenchmarkSilo
{
    public static ISiloBuilder AddBenchmarkSilo(this ISiloBuilder silo, IConfiguration configuration, BenchmarkOptions options) =>
        options.Storage == BenchmarkStorage.Memory
            ? silo.AddTicketQueue(configuration)
            : silo.AddPostgresStorageSilo(configuration, options.Postgres);
}
