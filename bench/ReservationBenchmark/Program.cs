using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using Orleans;
using Orleans.Hosting;
using Orleans.Serialization;
using Orleans.Storage;
using TicketQueue.Bench;
using TicketQueue.Charts;
using TicketQueue.Grains.Abstractions.Events;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Queue;
using TicketQueue.ReservationBenchmark;

// Seat contention: many admitted buyers try at once to buy the same event's seats through the real grains,
// in one process with a silo configured by AddTicketQueue (or, with --storage postgres, embedded clustering
// and cluster storage, as bench/JoinBenchmark does), or with --cluster-client as an Orleans client of
// cluster-mode silos in other processes (bench/cluster.sh). Each buyer does what the gateway does for a
// purchase: claim the admission and reserve seats (the hold: best-available, or seats they picked), then,
// if the block said yes, pay with the sandbox provider, which confirms the seats and ends the session.
// Most buyers are refused when there are more of them than seats; none may get a seat someone else has.

if (!CommandLine.TryParse(args, BenchmarkOptions.Usage, BenchmarkOptions.Parse, out var options, out var exitCode))
{
    return exitCode;
}


// The benchmark's own connection to the database the silo (or the cluster's silos) will write to.
await using var database = options.Postgres is { } connectionString ? NpgsqlDataSource.Create(connectionString) : null;
var databaseDescription = "";
if (database is not null)
{
    try
    {
        databaseDescription = await DescribeDatabase(database);
    }
    catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
    {
        Console.Error.WriteLine($"PostgreSQL ({options.Postgres}): {e.Message}");
        return 2;
    }
}

var quietShutdown = false;
// Warnings and up, until the figures are printed.
var builder = BenchSilo.Builder("reservation-benchmark", () => quietShutdown);
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
if (options.ClusterClient)
{
    builder.UseBenchmarkClient(options.Cluster.Redis!, options.Cluster.ClusterId, options.Cluster.ServiceId);
}
else
{
    builder.UseOrleans(silo => silo.AddBenchmarkSilo(builder.Configuration, options));
}

using var host = builder.Build();
await host.StartAsync();
var grains = host.Services.GetRequiredService<IGrainFactory>();
var storageName = options.ClusterClient ? "cluster" : options.Storage.ToString().ToLowerInvariant();
var processes = options.ClusterClient ? new ClusterProcesses(options.Cluster) : null;

Console.WriteLine("TicketQueue reservation benchmark: seat contention");
Console.WriteLine($"  command            dotnet run -c Release --project bench/ReservationBenchmark --{string.Concat(args.Select(a => " " + a))}");
Console.WriteLine($"  machine            {Machine.Describe()}");
if (options.ClusterClient)
{
    Console.WriteLine($"  mode               cluster client: no silo in this process; an Orleans client of the silos of cluster " +
        $"'{options.Cluster.ClusterId}' (service '{options.Cluster.ServiceId}') found through Redis, every call over TCP");
    Console.WriteLine($"  silos              {(options.Cluster.SiloPids.Count > 0 ? $"{options.Cluster.SiloPids.Count} (pids {string.Join(", ", options.Cluster.SiloPids)})" : "not named (--silo-pids)")}, " +
        $"in cluster mode: grain state and queue records in {(database is null ? "their PostgreSQL (not given: --postgres)" : databaseDescription)}; " +
        "membership and reminders in Redis");
}
else
{
    Console.WriteLine($"  storage            {storageName}: " + (options.Storage == BenchmarkStorage.Memory
        ? "in-memory grain storage and queue records, as AddTicketQueue configures an embedded silo"
        : $"grain state (ADO.NET) and queue records in {databaseDescription}; localhost clustering; " +
            "in-memory reminders registered after the cluster's Redis ones (no Redis is used)"));
    Console.WriteLine($"  providers          grain storage {host.Services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Reservations).GetType().Name}, " +
        $"queue records {host.Services.GetRequiredService<IQueueEntryStore>().GetType().Name}, " +
        $"reminders {host.Services.GetService<IReminderTable>()?.GetType().Name ?? "none"}");
}

Console.WriteLine($"  event              {options.Seats:N0} seats in {options.Blocks} block(s) of {options.RowsPerBlock} rows x {BenchmarkOptions.SeatsPerRow} seats, " +
    $"{ContentionRun.Price:N0} KRW a seat; a fresh event for each way of picking seats");
Console.WriteLine($"  buyers             {options.Users:N0} admitted users ({(double)options.Users * options.Quantity / options.Seats:0.##} x the seats, at {options.Quantity} each), " +
    $"each tries once: claim admission + hold {options.Quantity} seats, then if held pay (sandbox) and confirm; " +
    $"{options.Buyers} purchases in flight; user i buys in block i mod {options.Blocks}");
Console.WriteLine($"  seat choice        {string.Join(", then ", options.Picks.Select(SeatPicks.Name))}" +
    (options.Picks.Contains(SeatPick.RandomFront) ? $" (random-front: the first {options.FrontRowsOrDefault} row(s) of each block, seed {options.Seed})" : ""));
Console.WriteLine($"  warm-up            {options.WarmupPurchases:N0} purchases on a separate event first");

var catalog = grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key);
var runId = DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);

// Warm-up on its own event, sized to sell out: JIT, thread pool and Orleans caches.
if (options.WarmupPurchases > 0)
{
    var warmupEventId = $"rbench-warmup-{runId}";
    var warmupRows = (options.WarmupPurchases * options.Quantity + BenchmarkOptions.SeatsPerRow - 1) / BenchmarkOptions.SeatsPerRow;
    await catalog.Create(ContentionRun.Event(warmupEventId, blocks: 1, warmupRows, options.WarmupPurchases));
    var warmupUsers = ContentionRun.NewUsers(options.WarmupPurchases);
    await Purchases.Admit(grains, warmupEventId, warmupUsers);
    await Purchases.Run(grains, warmupEventId, SeatPicks.Requests(SeatPick.BestAvailable, warmupUsers, 1, options.Quantity, 1, options.Seed),
        options.Buyers, progress: false);
}

var run = new ContentionRun(grains, options, host.Services.GetRequiredService<Serializer>(), database, processes);
var results = new List<ModeResult>();
foreach (var pick in options.Picks)
{
    results.Add(await run.Run(pick, runId));
}

Console.WriteLine();
Console.WriteLine($"Seat contention: {options.Users:N0} buyers for {options.Seats:N0} seats in {options.Blocks} block(s), {options.Quantity} seats each, " +
    $"{options.Buyers} in flight, {storageName} storage");
var table = new Table("seat choice", "elapsed s", "purchase attempts/s", "holds/s", "last hold at s", "holds/s until then", "confirmed/s", "held", "refused: not-enough-seats / seats-unavailable",
    "attempt p50 / p99 ms", "pay p50 / p99 ms", options.ClusterClient ? "cores: client / silos / PostgreSQL / Redis / rest / idle" : "CPU", "oversold", "checks");
foreach (var r in results)
{
    table.Row(SeatPicks.Name(r.Pick), r.Elapsed.TotalSeconds, $"{r.AttemptsPerSecond:N0}", $"{r.HoldsPerSecond:N0}", r.LastHold.TotalSeconds,
        $"{r.HoldsPerSecondWhileSelling:N0}", $"{r.ConfirmedPerSecond:N0}", r.Held,
        $"{r.Refused[Purchases.NotEnoughSeats]:N0} / {r.Refused[Purchases.SeatsUnavailable]:N0}",
        $"{ContentionRun.Ms(ContentionRun.Percentile(r.AttemptTicks, 0.50))} / {ContentionRun.Ms(ContentionRun.Percentile(r.AttemptTicks, 0.99))}",
        $"{ContentionRun.Ms(ContentionRun.Percentile(r.PayTicks, 0.50))} / {ContentionRun.Ms(ContentionRun.Percentile(r.PayTicks, 0.99))}",
        r.Cpu, r.Oversold, r.Ok ? "PASS" : "FAIL");
}

Console.WriteLine(table);
Console.WriteLine("Targets");
foreach (var r in results)
{
    Console.WriteLine($"  oversold seats, {SeatPicks.Name(r.Pick),-15} target 0, measured {r.Oversold}: {(r.Oversold == 0 ? "PASS" : "MISS")}");
}

// One chart per storage, so a cluster run does not overwrite the embedded figures.
var chartPath = Chart.Bars(Chart.DocsPath(storageName == "memory" ? "seat-contention" : $"seat-contention-{storageName}"),
    $"Seat contention: {options.Users:N0} buyers, {options.Seats:N0} seats, {options.Buyers} in flight ({storageName})\n" +
    "hold attempts answered per second over the run; holds per second up to the last hold",
    "per second",
    [.. results.SelectMany(r => new[]
    {
        ($"{SeatPicks.Name(r.Pick)}: attempts", r.AttemptsPerSecond),
        // Seats run out early in a contended run: held per second counts up to the last hold, not to the last refusal.
        ($"{SeatPicks.Name(r.Pick)}: held", r.HoldsPerSecondWhileSelling),
    })]);
Console.WriteLine($"Chart: {chartPath}");

var ok = results.All(r => r.Ok);
Console.WriteLine($"Overall: {(ok ? "PASS" : "FAIL")}");
Console.WriteLine();
Console.WriteLine(options.ClusterClient
    ? "Stopping the client (the silos keep running; warnings and errors logged during shutdown are not shown)."
    : "Stopping the silo (warnings and errors logged during shutdown are not shown).");
quietShutdown = true;
await host.StopAsync();
return ok ? 0 : 1;

static async Task<string> DescribeDatabase(NpgsqlDataSource database)
{
    var settings = new NpgsqlConnectionStringBuilder(database.ConnectionString);
    await using var command = database.CreateCommand(
        "SELECT current_setting('server_version'), current_setting('fsync'), current_setting('synchronous_commit'), " +
        "to_regclass('reservation_service.grain_state') IS NOT NULL AND to_regclass('queue_service.queue_entries') IS NOT NULL");
    await using var reader = await command.ExecuteReaderAsync();
    await reader.ReadAsync();
    if (!reader.GetBoolean(3))
    {
        throw new InvalidOperationException("The database has no TicketQueue tables: apply init-db.sql first (psql -f init-db.sql).");
    }

    return $"PostgreSQL {reader.GetString(0)} at {settings.Host}:{settings.Port}, database {settings.Database} " +
        $"(fsync {reader.GetString(1)}, synchronous_commit {reader.GetString(2)})";
}

