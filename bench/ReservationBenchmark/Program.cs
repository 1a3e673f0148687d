using System.Diagnostics;
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
using TicketQueue.Grains.Abstractions.Common;
using TicketQueue.Grains.Abstractions.Events;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Abstractions.Seats;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Payments;
using TicketQueue.Grains.Queue;
using TicketQueue.Grains.Seats;
using TicketQueue.ReservationBenchmark;

// Sells one event's seats through the real grains, in one process with a silo configured by AddTicketQueue
// (or, with --storage postgres, embedded clustering and cluster storage, as bench/JoinBenchmark does), or
// with --cluster-client as an Orleans client of cluster-mode silos in other processes (bench/cluster.sh).
// Users join the queue and are admitted first; then K buyers at a time each do what the gateway does for
// a purchase: claim the admission and reserve Q best-available seats (the hold), then pay with the
// sandbox provider, which confirms the seats and ends the shopping session.

if (args is ["-h"] or ["--help"])
{
    Console.WriteLine(BenchmarkOptions.Usage);
    return 0;
}

BenchmarkOptions options;
try
{
    options = BenchmarkOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
var users = options.UsersOrDefault;
const decimal Price = 10_000m;

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
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
{
    ["Orleans:ClusterId"] = "reservation-benchmark",
    ["Orleans:ServiceId"] = "reservation-benchmark",
    // Free ports, so a benchmark never collides with a silo or test cluster running on this machine.
    ["Orleans:SiloPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
    ["Orleans:GatewayPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
    ["TicketQueue:SeedDemoData"] = "false",
});
// Warnings and up, until the figures are printed; the silo's shutdown chatter is not part of the benchmark.
builder.Logging.AddConsole().AddFilter((_, _, level) => level >= LogLevel.Critical || (level >= LogLevel.Warning && !quietShutdown));
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
var rowsPerBlock = options.Seats / options.Blocks / BenchmarkOptions.SeatsPerRow;

Console.WriteLine("TicketQueue reservation benchmark");
Console.WriteLine($"  runtime            .NET {Environment.Version}, {Environment.ProcessorCount} cores, " +
    $"{(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC");
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

Console.WriteLine($"  event              {options.Seats:N0} seats in {options.Blocks} block(s) of {rowsPerBlock} rows x {BenchmarkOptions.SeatsPerRow} seats, " +
    $"{Price:N0} KRW a seat");
Console.WriteLine($"  purchases          {users:N0} admitted users, each: claim admission + reserve {options.Quantity} best-available seats (the hold), " +
    $"then pay (sandbox) and confirm; {options.Buyers} purchases in flight; block of user i = i mod {options.Blocks}");
Console.WriteLine($"  warm-up            {options.WarmupPurchases:N0} purchases on a separate event first");

var catalog = grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key);
var runId = DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
var eventId = $"rbench-{runId}";

// Warm-up on its own event, sized to sell out: JIT, thread pool and Orleans caches.
if (options.WarmupPurchases > 0)
{
    var warmupEventId = $"rbench-warmup-{runId}";
    var warmupRows = (options.WarmupPurchases * options.Quantity + BenchmarkOptions.SeatsPerRow - 1) / BenchmarkOptions.SeatsPerRow;
    await catalog.Create(BenchmarkEvent(warmupEventId, blocks: 1, warmupRows, options.WarmupPurchases));
    var warmupUsers = NewUsers(options.WarmupPurchases);
    await Admit(grains, warmupEventId, warmupUsers);
    await RunPurchases(grains, warmupEventId, warmupUsers, blocks: 1, options.Quantity, options.Buyers, progress: false);
}

await catalog.Create(BenchmarkEvent(eventId, options.Blocks, rowsPerBlock, users));
var userIds = NewUsers(users);
var admitWatch = Stopwatch.StartNew();
await Admit(grains, eventId, userIds);
admitWatch.Stop();

var loadBefore = LoadAverage();
var machineBefore = MachineCpu();
var cpuBefore = ProcessCpu();
var processesBefore = processes?.Take();
var stopwatch = Stopwatch.StartNew();
var outcomes = await RunPurchases(grains, eventId, userIds, options.Blocks, options.Quantity, options.Buyers, progress: true);
stopwatch.Stop();
var elapsed = stopwatch.Elapsed;
var processesAfter = processes?.Take();
var split = processes?.Between(processesBefore!, processesAfter!, "the purchases");
var cpuUsed = ProcessCpu() - cpuBefore;
var machineAfter = MachineCpu();

var held = outcomes.Where(o => o.Kind is PurchaseKind.Confirmed or PurchaseKind.PayFailed).ToArray();
var confirmed = outcomes.Where(o => o.Kind == PurchaseKind.Confirmed).ToArray();
var soldOut = outcomes.Count(o => o.Kind == PurchaseKind.SoldOut);
var failed = outcomes.Where(o => o.Kind is PurchaseKind.HoldFailed or PurchaseKind.PayFailed or PurchaseKind.NotAdmitted).ToArray();
var holdTicks = held.Select(o => o.HoldTicks).Order().ToArray();
var payTicks = confirmed.Select(o => o.PayTicks).Order().ToArray();
var holdsPerSecond = held.Length / elapsed.TotalSeconds;
var confirmedPerSecond = confirmed.Length / elapsed.TotalSeconds;

Console.WriteLine();
Console.WriteLine("Results");
Console.WriteLine($"  admission                   {users:N0} joins and their admission took {admitWatch.Elapsed.TotalSeconds:F2} s (not in the figures below)");
Console.WriteLine($"  elapsed                     {elapsed.TotalSeconds:F2} s for {users:N0} purchase attempts, {options.Buyers} in flight");
Console.WriteLine($"  holds                       {held.Length:N0} = {holdsPerSecond:N0} per second ({held.Length * options.Quantity:N0} seats)");
Console.WriteLine($"  confirmed reservations      {confirmed.Length:N0} = {confirmedPerSecond:N0} per second ({confirmedPerSecond * options.Quantity:N0} seats sold per second)");
Console.WriteLine($"  sold out                    {soldOut:N0} attempts found fewer than {options.Quantity} free seats (\"not-enough-seats\")");
Console.WriteLine($"  failed                      {failed.Length:N0}{(failed.FirstOrDefault() is { Error: { } first } ? $" (first: {first})" : "")}");
Console.WriteLine($"  hold latency                mean {Ms((long)holdTicks.DefaultIfEmpty().Average())} ms, p50/p99/max {Ms(Percentile(holdTicks, 0.50))} / " +
    $"{Ms(Percentile(holdTicks, 0.99))} / {Ms(holdTicks.LastOrDefault())} ms (Claim + IUserReservationsGrain.Reserve)");
Console.WriteLine($"  pay latency                 mean {Ms((long)payTicks.DefaultIfEmpty().Average())} ms, p50/p99/max {Ms(Percentile(payTicks, 0.50))} / " +
    $"{Ms(Percentile(payTicks, 0.99))} / {Ms(payTicks.LastOrDefault())} ms (IReservationGrain.Pay: capture, confirm the seats, finish the session)");
Console.WriteLine($"  CPU used by this process    {cpuUsed.TotalSeconds:F1} s = {cpuUsed.TotalSeconds / elapsed.TotalSeconds / Environment.ProcessorCount:P0} of {Environment.ProcessorCount} cores");
Console.WriteLine($"  CPU busy on the machine     {MachineBusy(machineBefore, machineAfter)} (this process, and the rest: " +
    $"{(options.ClusterClient ? "the silos, PostgreSQL, Redis and " : database is not null ? "PostgreSQL and " : "")}any other process); " +
    $"load average before {loadBefore}");
if (split is not null)
{
    Console.WriteLine();
    foreach (var line in split.Lines)
    {
        Console.WriteLine(line);
    }
}

// Correctness: the blocks and the reservations must tell the same story, and no seat may be sold twice.
Console.WriteLine();
Console.WriteLine("Correctness");
var ok = failed.Length == 0;
Console.WriteLine($"  purchase attempts           {(failed.Length == 0 ? "PASS" : "FAIL")}: {confirmed.Length:N0} confirmed, {soldOut:N0} sold out, {failed.Length:N0} failed");

var views = await Task.WhenAll(confirmed.Select(o => grains.GetGrain<IReservationGrain>(o.ReservationId).Get()));
var owners = new Dictionary<(string Block, string Seat), Guid>();
long soldTwice = 0, badViews = 0;
foreach (var view in views)
{
    if (view is not { Status: ReservationStatus.Confirmed, Payment.Refunded: false } || view.Seats.Count != options.Quantity
        || view.Amount != Price * options.Quantity || view.Payment.Amount != view.Amount)
    {
        badViews++;
    }

    foreach (var seat in view?.Seats ?? [])
    {
        if (!owners.TryAdd((view!.BlockId, seat), view.ReservationId))
        {
            soldTwice++;
        }
    }
}

var reservationsOk = badViews == 0 && soldTwice == 0;
ok &= reservationsOk;
Console.WriteLine($"  confirmed reservations      {(reservationsOk ? "PASS" : "FAIL")}: {views.Length:N0} read back; not confirmed, refunded or wrong amount {badViews}; " +
    $"seats in two reservations {soldTwice}");

long blockSold = 0, blockHeld = 0, soldWithoutReservation = 0, wrongCount = 0;
for (var b = 0; b < options.Blocks; b++)
{
    var blockId = BlockId(b);
    var seats = await SeatBlocks.For(grains, eventId, blockId).GetSeats();
    var sold = seats.Where(s => s.Status == SeatStatus.Sold).ToArray();
    blockSold += sold.Length;
    blockHeld += seats.Count(s => s.Status == SeatStatus.Held);
    soldWithoutReservation += sold.Count(s => !owners.ContainsKey((blockId, s.SeatId)));
    // Best-available falls back to any free seats, so a block sells out to the last full purchase.
    var buyers = users / options.Blocks + (b < users % options.Blocks ? 1 : 0);
    var expected = Math.Min(buyers, seats.Count / options.Quantity) * options.Quantity;
    wrongCount += sold.Length == expected ? 0 : 1;
}

var blocksOk = blockSold == owners.Count && blockHeld == 0 && soldWithoutReservation == 0 && wrongCount == 0;
ok &= blocksOk;
Console.WriteLine($"  seat blocks                 {(blocksOk ? "PASS" : "FAIL")}: {blockSold:N0} seats sold, {owners.Count:N0} in confirmed reservations; " +
    $"still held {blockHeld}; sold without a reservation {soldWithoutReservation}; blocks not sold as far as demand allows {wrongCount}");
Console.WriteLine($"  overall                     {(ok ? "PASS" : "FAIL")}");

// Every hold and every confirm rewrites the whole block's state: its size is what each of them costs.
var blockState = BlockStateLike(views.OfType<ReservationView>().Where(v => v.BlockId == BlockId(0)), options.Seats / options.Blocks);
var serialized = new OrleansGrainStorageSerializer(host.Services.GetRequiredService<Serializer>()).Serialize(blockState).ToMemory().Length;
Console.WriteLine();
Console.WriteLine("Seat block state");
Console.WriteLine($"  one block, as it ends       {serialized:N0} bytes in the grain storage's binary format ({options.Seats / options.Blocks:N0} seats; " +
    "written whole on every hold and every confirm)");
if (database is not null)
{
    var (bytes, stored) = await StoredBlockRow(database, SeatBlocks.KeyFor(eventId, BlockId(0)));
    Console.WriteLine($"  its PostgreSQL row          payload {bytes:N0} bytes, {stored:N0} bytes stored (TOAST compression) in reservation_service.grain_state");
}

Console.WriteLine();
var latencies = $"{Ms((long)holdTicks.DefaultIfEmpty().Average())} / {Ms(Percentile(holdTicks, 0.99))} | " +
    $"{Ms((long)payTicks.DefaultIfEmpty().Average())} / {Ms(Percentile(payTicks, 0.99))}";
if (split is null)
{
    Console.WriteLine("| seats | blocks | buyers in flight | storage | elapsed s | holds/s | confirmed/s | hold mean / p99 ms | pay mean / p99 ms | CPU used | sold twice |");
    Console.WriteLine($"| {options.Seats:N0} | {options.Blocks} | {options.Buyers} | {storageName} | {elapsed.TotalSeconds:F2} | {holdsPerSecond:N0} | {confirmedPerSecond:N0} | " +
        $"{latencies} | {cpuUsed.TotalSeconds / elapsed.TotalSeconds / Environment.ProcessorCount:P0} | {soldTwice} |");
}
else
{
    // CPU in cores busy on average during the purchases, of Environment.ProcessorCount.
    Console.WriteLine("| seats | blocks | buyers in flight | mode | silos | elapsed s | holds/s | confirmed/s | hold mean / p99 ms | pay mean / p99 ms | " +
        "cores: client / silos / PostgreSQL / Redis / rest / idle | load avg before | sold twice |");
    Console.WriteLine($"| {options.Seats:N0} | {options.Blocks} | {options.Buyers} | {storageName} client | {options.Cluster.SiloPids.Count} | {elapsed.TotalSeconds:F2} | " +
        $"{holdsPerSecond:N0} | {confirmedPerSecond:N0} | {latencies} | " +
        $"{split.Client:F2} / {split.Silos:F2} / {split.Postgres:F2} / {split.Redis:F2} / {split.Other:F2} / {split.Idle:F2} | {loadBefore.Split(' ')[0]} | {soldTwice} |");
}

Console.WriteLine();
Console.WriteLine(options.ClusterClient
    ? "Stopping the client (the silos keep running; warnings and errors logged during shutdown are not shown)."
    : "Stopping the silo (warnings and errors logged during shutdown are not shown).");
quietShutdown = true;
await host.StopAsync();
return ok ? 0 : 1;

static string BlockId(int block) => $"b{block + 1}";

static EventDefinition BenchmarkEvent(string eventId, int blocks, int rows, int users)
{
    var now = DateTimeOffset.UtcNow;
    return new EventDefinition(eventId, $"Reservation benchmark {eventId}", "Benchmark Hall",
        StartsAt: now.AddDays(30), SalesOpenAt: now.AddMinutes(-1), "KRW", TicketLimitPerUser: 4,
        Blocks: [.. Enumerable.Range(0, blocks).Select(b =>
            new SeatBlockDefinition(BlockId(b), $"Block {b + 1}", rows, BenchmarkOptions.SeatsPerRow, Price))],
        // Everyone is admitted on the first tick and may shop, and hold, for longer than any run lasts.
        new QueueSettings(AdmissionsPerMinute: Math.Max(60, users * 60), MaxActiveShoppers: Math.Max(1, users),
            ClaimWindow: TimeSpan.FromMinutes(30), ShoppingSession: TimeSpan.FromMinutes(60), HoldDuration: TimeSpan.FromMinutes(30)));
}

static Guid[] NewUsers(int count) => [.. Enumerable.Range(0, count).Select(_ => Guid.NewGuid())];

// Joins every user and waits until the queue has admitted them all.
static async Task Admit(IGrainFactory grains, string eventId, Guid[] userIds)
{
    await ForEachConcurrently(userIds.Length, 256, async i => await QueueShards.For(grains, eventId, userIds[i]).Join(userIds[i]));
    var queue = grains.GetGrain<IEventQueueGrain>(eventId);
    var deadline = Stopwatch.StartNew();
    while ((await queue.GetStats()).Admitted < userIds.Length)
    {
        if (deadline.Elapsed > TimeSpan.FromSeconds(60))
        {
            throw new InvalidOperationException("The queue did not admit every user within 60 s.");
        }

        await Task.Delay(100);
    }
}

static async Task<Purchase[]> RunPurchases(
    IGrainFactory grains, string eventId, Guid[] userIds, int blocks, int quantity, int buyers, bool progress)
{
    var outcomes = new Purchase[userIds.Length];
    var done = 0;
    using var finished = new CancellationTokenSource();
    var reporter = progress ? Report(finished.Token) : Task.CompletedTask;

    await ForEachConcurrently(userIds.Length, buyers, async i =>
    {
        outcomes[i] = await Buy(grains, eventId, userIds[i], BlockId(i % blocks), quantity);
        Interlocked.Increment(ref done);
    });

    await finished.CancelAsync();
    await reporter;
    return outcomes;

    async Task Report(CancellationToken token)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(10), token);
                Console.Error.WriteLine($"  ... {Volatile.Read(ref done):N0} purchases done after {watch.Elapsed.TotalSeconds:F0} s");
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}

// What the gateway does for one purchase: POST /reservations (claim, then reserve), then POST .../pay.
static async Task<Purchase> Buy(IGrainFactory grains, string eventId, Guid userId, string blockId, int quantity)
{
    var started = Stopwatch.GetTimestamp();
    ReservationView view;
    try
    {
        var place = await QueueShards.For(grains, eventId, userId).Claim(userId);
        if (place is not { Status: QueueStatusKind.Admitted })
        {
            return new Purchase(PurchaseKind.NotAdmitted, Guid.Empty, 0, 0, $"queue status {place?.Status.ToString() ?? "none"}");
        }

        view = await grains.GetGrain<IUserReservationsGrain>(userId).Reserve(eventId, blockId, null, quantity, idempotencyKey: null);
    }
    catch (DomainException e) when (e.Code == "not-enough-seats")
    {
        return new Purchase(PurchaseKind.SoldOut, Guid.Empty, 0, 0, null);
    }
    catch (Exception e)
    {
        return new Purchase(PurchaseKind.HoldFailed, Guid.Empty, 0, 0, FirstLine(e));
    }

    var heldAt = Stopwatch.GetTimestamp();
    try
    {
        var paid = await grains.GetGrain<IReservationGrain>(view.ReservationId)
            .Pay(new PaymentCommand(userId, SandboxPaymentProvider.ProviderName, PaymentId: null));
        return paid.Status == ReservationStatus.Confirmed
            ? new Purchase(PurchaseKind.Confirmed, view.ReservationId, heldAt - started, Stopwatch.GetTimestamp() - heldAt, null)
            : new Purchase(PurchaseKind.PayFailed, view.ReservationId, heldAt - started, 0, $"status {paid.Status} after Pay");
    }
    catch (Exception e)
    {
        return new Purchase(PurchaseKind.PayFailed, view.ReservationId, heldAt - started, 0, FirstLine(e));
    }
}

// Orleans wraps storage errors with the whole inner stack trace in the message; the first line names the cause.
static string FirstLine(Exception e) => $"{e.GetType().Name}: {e.Message.Split('\n')[0].TrimEnd()}" +
    (e.InnerException is { } inner ? $" <- {inner.GetType().Name}: {inner.Message.Split('\n')[0].TrimEnd()}" : "");

static async Task ForEachConcurrently(int count, int concurrency, Func<int, Task> work)
{
    var next = -1;
    var workers = new Task[Math.Min(concurrency, Math.Max(1, count))];
    for (var w = 0; w < workers.Length; w++)
    {
        workers[w] = Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < count; i = Interlocked.Increment(ref next))
            {
                await work(i);
            }
        });
    }

    await Task.WhenAll(workers);
}

// The state a seat block holds once these reservations are sold, built the way SeatBlockGrain builds it.
static SeatBlockState BlockStateLike(IEnumerable<ReservationView> sold, int capacity)
{
    var indexOf = Enumerable.Range(0, capacity).ToDictionary(
        i => $"{SeatBlockGrain.RowName(i / BenchmarkOptions.SeatsPerRow)}-{i % BenchmarkOptions.SeatsPerRow + 1}");
    var state = new SeatBlockState { Seats = new SeatSlot[capacity] };
    foreach (var view in sold)
    {
        var indexes = view.Seats.Select(s => indexOf[s]).ToArray();
        foreach (var index in indexes)
        {
            state.Seats[index] = new SeatSlot { HoldId = view.ReservationId, HeldUntil = view.ExpiresAt, Sold = true };
        }

        state.Holds[view.ReservationId] = indexes;
    }

    return state;
}

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

static async Task<(long Bytes, long Stored)> StoredBlockRow(NpgsqlDataSource database, string blockKey)
{
    await using var command = database.CreateCommand(
        "SELECT COALESCE(max(octet_length(payload)), 0)::bigint, COALESCE(max(pg_column_size(payload)), 0)::bigint " +
        "FROM reservation_service.grain_state WHERE grain_id_ext = $1");
    command.Parameters.Add(new NpgsqlParameter { Value = blockKey });
    await using var reader = await command.ExecuteReaderAsync();
    await reader.ReadAsync();
    return (reader.GetInt64(0), reader.GetInt64(1));
}

static long Percentile(long[] sorted, double p) =>
    sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

static string Ms(long ticks) => (ticks * 1000.0 / Stopwatch.Frequency).ToString("F2", CultureInfo.InvariantCulture);

static TimeSpan ProcessCpu()
{
    using var process = Process.GetCurrentProcess();
    return process.TotalProcessorTime;
}

// Busy and total jiffies of all cores, from the first line of /proc/stat; null where there is none.
static (long Busy, long Total)? MachineCpu()
{
    try
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(long.Parse).ToArray();
        var idle = fields[3] + fields[4]; // idle, iowait
        var total = fields[..8].Sum(); // user nice system idle iowait irq softirq steal; guest time is inside user
        return (total - idle, total);
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
    {
        return null;
    }
}

static string MachineBusy((long Busy, long Total)? before, (long Busy, long Total)? after) =>
    before is { } b && after is { } a && a.Total > b.Total
        ? $"{(double)(a.Busy - b.Busy) / (a.Total - b.Total):P0} of {Environment.ProcessorCount} cores"
        : "n/a";

static string LoadAverage()
{
    try
    {
        var fields = File.ReadAllText("/proc/loadavg").Split(' ');
        return $"{fields[0]} {fields[1]} {fields[2]}";
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
    {
        return "n/a";
    }
}

static int FreePort()
{
    using var listener = new TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

internal enum PurchaseKind
{
    Confirmed,
    SoldOut,
    NotAdmitted,
    HoldFailed,
    PayFailed,
}

/// <summary>One purchase attempt: how it ended, its reservation, and how long the hold and the payment took.</summary>
internal sealed record Purchase(PurchaseKind Kind, Guid ReservationId, long HoldTicks, long PayTicks, string? Error);
