using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans;
using Orleans.Hosting;
using Orleans.Storage;
using TicketQueue.Bench;
using TicketQueue.Grains.Abstractions.Events;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.DomainEvents;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Queue;
using TicketQueue.JoinBenchmark;

// Drives N joins into one event through the real grains, in one process with a silo configured by
// AddTicketQueue (the same call src/Silo and the embedded gateway make), or with --storage postgres by
// its two halves: embedded clustering, cluster storage. Callers use the silo's own IGrainFactory, so this
// measures the grain path (shard grain -> queue grain -> storage), not a network. With --cluster-client it
// hosts no silo: it is an Orleans client of cluster-mode silos (other processes, found through Redis), as a
// cluster-mode gateway is, and every call crosses the network (bench/cluster.sh sets that cluster up).

if (!CommandLine.TryParse(args, BenchmarkOptions.Usage, BenchmarkOptions.Parse, out var options, out var exitCode))
{
    return exitCode;
}

if (options.Sizes is { } sizes)
{
    // Several sizes: each is one run of this program in a process of its own, so no size inherits another's heap.
    return await SizesRun.Run(options, sizes, args);
}

var users = options.Users;

// The benchmark's own connection to the database the silo (or the cluster's silos) will write to.
await using var database = options.Postgres is { } connectionString ? await OpenDatabase(connectionString) : null;
if (options.Postgres is not null && database is null)
{
    return 2;
}

// Everything the benchmark itself keeps per user is allocated before the "before" snapshot, so the
// heap difference is what the silo keeps, not what the driver keeps (in-process silo only).
var userIds = RandomUsers(users, new Random(options.Seed));
var tickets = new long[users];
var latencyTicks = new long[users];
var warmupIds = RandomUsers(options.WarmupUsers, new Random(options.Seed + 1));

// Warnings and up, until the figures are printed.
var builder = BenchSilo.Builder("join-benchmark", () => ShutdownLogging.Quiet);
if (options.TicketBlock is { } ticketBlock)
{
    builder.Configuration["TicketQueue:Queue:TicketBlockSize"] = ticketBlock.ToString(CultureInfo.InvariantCulture);
}

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
// A client cannot see the silos' options: it prints the defaults, which bench/cluster.sh leaves in place.
var queueOptions = options.ClusterClient ? new QueueOptions() : host.Services.GetRequiredService<IOptions<QueueOptions>>().Value;
var storageName = options.ClusterClient ? "cluster" : options.Storage.ToString().ToLowerInvariant();
var processes = options.ClusterClient ? new ClusterProcesses(options.Cluster) : null;

Console.WriteLine("TicketQueue join benchmark");
Console.WriteLine($"  command            {Machine.CommandLine("bench/JoinBenchmark", args)}");
Console.WriteLine($"  machine            {Machine.Describe()}");
Console.WriteLine($"  runtime            .NET {Environment.Version}, {Environment.ProcessorCount} cores, " +
    $"{(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC, " +
    $"concurrent GC {(AppContext.TryGetSwitch("System.GC.Concurrent", out var concurrent) ? concurrent : true)}");
if (options.ClusterClient)
{
    Console.WriteLine($"  mode               cluster client: no silo in this process; an Orleans client of the silos of cluster " +
        $"'{options.Cluster.ClusterId}' (service '{options.Cluster.ServiceId}') found through Redis, every call over TCP");
    Console.WriteLine($"  silos              {(options.Cluster.SiloPids.Count > 0 ? $"{options.Cluster.SiloPids.Count} (pids {string.Join(", ", options.Cluster.SiloPids)})" : "not named (--silo-pids)")}, " +
        $"in cluster mode: grain state and queue records in {(database is null ? "their PostgreSQL (not given: --postgres)" : await database.Describe())}; " +
        "membership and reminders in Redis");
}
else
{
    Console.WriteLine($"  storage            {storageName}: " + options.Storage switch
    {
        BenchmarkStorage.Memory => "in-memory grain storage and queue records, as AddTicketQueue configures an embedded silo",
        BenchmarkStorage.Discard => "grain state and queue records kept nowhere (diagnostic, not a way to run TicketQueue)",
        _ => $"grain state (ADO.NET) and queue records in {await database!.Describe()}; " +
            "localhost clustering; in-memory reminders registered after the cluster's Redis ones (no Redis is used)",
    });
    Console.WriteLine($"  providers          queue records {host.Services.GetRequiredService<IQueueEntryStore>().GetType().Name}, " +
        $"grain storage {host.Services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Events).GetType().Name}, " +
        $"reminders {host.Services.GetService<IReminderTable>()?.GetType().Name ?? "none"}");
}

Console.WriteLine($"  queue options      ticket block {queueOptions.TicketBlockSize}, tick every {queueOptions.TickInterval.TotalSeconds:F1} s" +
    $"{(options.ClusterClient ? " (QueueOptions' defaults; the silos' configuration decides)" : "")}, " +
    $"{QueueShards.Count} shards per event; a join returns once its record is durable (group commit per shard)");
Console.WriteLine($"  users              {users:N0}, concurrency {options.Concurrency}, warm-up {options.WarmupUsers:N0}");
if (!options.ClusterClient && options.Storage == BenchmarkStorage.Memory && options.WarmupUsers < InProcessEventLog.Capacity)
{
    // The embedded event log keeps the last Capacity domain events: until it is full, every join adds one to it.
    Console.WriteLine($"  note               warm-up below the embedded event log's capacity ({InProcessEventLog.Capacity:N0} events): " +
        "the live heap per user below includes the log filling up, which a running silo pays once");
}

var catalog = grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key);
var runId = DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
var warmupEventId = $"bench-warmup-{runId}";
var eventId = $"bench-{runId}";
await catalog.Create(BenchmarkEvent(warmupEventId));
await catalog.Create(BenchmarkEvent(eventId));

// Warm-up on its own event: JIT, thread pool and Orleans caches, without using up the measured
// event's ticket numbers (they must come out as exactly 1..N).
if (warmupIds.Length > 0)
{
    var warmupTickets = new long[warmupIds.Length];
    await RunJoins(grains, warmupEventId, warmupIds, warmupTickets, new long[warmupIds.Length], options.Concurrency, progress: false);
    await RunStatusReads(grains, warmupEventId, warmupIds, Enumerable.Range(0, Math.Min(warmupIds.Length, 5_000)).ToArray(), options.Concurrency);
}

// The measured event: its queue grain and all 64 of its shard grains are active before the snapshot, so
// the difference is per-user records, not activations.
var queue = grains.GetGrain<IEventQueueGrain>(eventId);
await queue.GetStats();
for (var shard = 0; shard < QueueShards.Count; shard++)
{
    var probe = ProbeUserFor(shard);
    if (await QueueShards.For(grains, eventId, probe).GetStatus(probe) is not null)
    {
        throw new InvalidOperationException("A probe user unexpectedly has a place in the queue.");
    }
}

// Sales are already open by the event's definition; the queue marks itself open on its first tick.
var openWait = Stopwatch.StartNew();
while (!(await queue.GetStats()).Opened)
{
    if (openWait.Elapsed > TimeSpan.FromSeconds(30))
    {
        throw new InvalidOperationException("The queue did not open within 30 s.");
    }

    await Task.Delay(100);
}

// Joins return only once their record is saved, so there is no write still pending to wait for. A
// client's own heap says nothing about the silos: their resident memory is read from /proc instead.
var before = options.ClusterClient ? null : MemorySnapshot.Take();

var loadBefore = Machine.LoadAverage();
var machineBefore = Machine.Cpu();
var cpuBefore = Machine.ProcessCpu();
var processesBefore = processes?.Take();
var stopwatch = Stopwatch.StartNew();
var failures = await RunJoins(grains, eventId, userIds, tickets, latencyTicks, options.Concurrency, progress: true);
stopwatch.Stop();
var elapsed = stopwatch.Elapsed;
var processesAfter = processes?.Take();
var cpuUsed = Machine.ProcessCpu() - cpuBefore;
var machineAfter = Machine.Cpu();
var loadAfter = Machine.LoadAverage();

var after = options.ClusterClient ? null : MemorySnapshot.Take();

var joinsPerSecond = users / elapsed.TotalSeconds;
var split = processes?.Between(processesBefore!, processesAfter!, "the joins");
Array.Sort(latencyTicks);

Console.WriteLine();
Console.WriteLine("Results");
Console.WriteLine($"  users                       {users:N0}");
Console.WriteLine($"  concurrency                 {options.Concurrency}");
Console.WriteLine($"  failed joins                {failures.Count:N0}{(failures.First is { } first ? $" (first: {first.GetType().Name}: {first.Message})" : "")}");
Console.WriteLine($"  elapsed                     {elapsed.TotalSeconds:F2} s");
Console.WriteLine($"  joins per second            {joinsPerSecond:N0}");
Console.WriteLine($"  CPU used by this process    {cpuUsed.TotalSeconds:F1} s during the joins = {cpuUsed.TotalSeconds / elapsed.TotalSeconds / Environment.ProcessorCount:P0} of {Environment.ProcessorCount} cores");
Console.WriteLine($"  CPU busy on the machine     {Machine.Busy(machineBefore, machineAfter)} during the joins (this process, and the rest: " +
    $"{(options.ClusterClient ? "the silos, PostgreSQL, Redis and " : options.Storage == BenchmarkStorage.Postgres ? "PostgreSQL and " : "")}any other process)");
Console.WriteLine($"  machine load average        {loadBefore} before the joins, {loadAfter} after (1/5/15 min; other processes share these cores)");
Console.WriteLine($"  join latency mean           {Ms((long)latencyTicks.Average())} ms (concurrency / throughput = {options.Concurrency * 1000.0 / joinsPerSecond:F2} ms)");
Console.WriteLine($"  join latency p50/p90/p99/max {Ms(Percentile(latencyTicks, 0.50))} / {Ms(Percentile(latencyTicks, 0.90))} / {Ms(Percentile(latencyTicks, 0.99))} / {Ms(latencyTicks[^1])} ms");
if (before is not null && after is not null)
{
    Console.WriteLine($"  live heap before/after      {MemorySnapshot.Mib(before.LiveBytes)} / {MemorySnapshot.Mib(after.LiveBytes)} (after forced compacting full GC)");
    Console.WriteLine($"  GC heap size before/after   {MemorySnapshot.Mib(before.HeapSizeBytes)} / {MemorySnapshot.Mib(after.HeapSizeBytes)} " +
        $"(fragmentation {MemorySnapshot.Mib(before.FragmentedBytes)} / {MemorySnapshot.Mib(after.FragmentedBytes)})");
    Console.WriteLine($"  working set before/after    {MemorySnapshot.Mib(before.WorkingSetBytes)} / {MemorySnapshot.Mib(after.WorkingSetBytes)}");
    Console.WriteLine($"  live heap per waiting user  {(double)(after.LiveBytes - before.LiveBytes) / users:F1} bytes");
    Console.WriteLine($"  GC heap per waiting user    {(double)(after.HeapSizeBytes - before.HeapSizeBytes) / users:F1} bytes");
    Console.WriteLine($"  working set per user        {(double)(after.WorkingSetBytes - before.WorkingSetBytes) / users:F1} bytes");
}
else
{
    // The silos' heaps are in other processes: no forced collection there, so resident memory includes garbage.
    Console.WriteLine($"  silos' VmRSS before/after   {ClusterProcesses.Mib(split?.SiloRssBefore)} / {ClusterProcesses.Mib(split?.SiloRssAfter)} " +
        "(all silos named by --silo-pids, summed; no forced GC in them, so garbage counts too)");
    Console.WriteLine($"  silos' VmRSS per user       {(split is { SiloRssBefore: { } rssBefore, SiloRssAfter: { } rssAfter } ? $"{(double)(rssAfter - rssBefore) / users:F1} bytes" : "n/a")}");
}

if (split is not null)
{
    Console.WriteLine();
    foreach (var line in split.Lines)
    {
        Console.WriteLine(line);
    }

    Console.WriteLine();
}

var stats = await queue.GetStats();
Console.WriteLine($"  queue                       issued {stats.Issued:N0}, waiting {stats.Waiting:N0}, admitted {stats.Admitted:N0}");

// Correctness: the numbers Join handed out are exactly 1..N, and the records the shards keep agree.
Console.WriteLine();
Console.WriteLine("Correctness");
var ok = failures.Count == 0;
var (joinedDistinct, joinedProblem) = CheckOneToN(tickets, users);
ok &= joinedDistinct;
Console.WriteLine($"  tickets returned by Join    {(joinedDistinct ? $"PASS: {users:N0} distinct numbers, exactly 1..{users:N0}" : $"FAIL: {joinedProblem}")}");
ok &= stats.Issued == users;
Console.WriteLine($"  queue issued count          {(stats.Issued == users ? "PASS" : "FAIL")}: {stats.Issued:N0} issued for {users:N0} joins");

var sample = options.VerifySample switch
{
    null => Enumerable.Range(0, users).ToArray(),
    0 => [],
    var k => RandomSample(users, k.Value),
};
if (sample.Length > 0)
{
    var readWatch = Stopwatch.StartNew();
    var read = await RunStatusReads(grains, eventId, userIds, sample, options.Concurrency);
    readWatch.Stop();
    var seen = new bool[users + 1];
    long missing = 0, mismatched = 0, duplicates = 0, outOfRange = 0;
    var kinds = new Dictionary<QueueStatusKind, long>();
    for (var j = 0; j < sample.Length; j++)
    {
        var status = read[j];
        if (status?.TicketNumber is not { } number)
        {
            missing++;
            continue;
        }

        kinds[status.Status] = kinds.GetValueOrDefault(status.Status) + 1;
        if (number != tickets[sample[j]])
        {
            mismatched++;
        }

        if (number < 1 || number > users)
        {
            outOfRange++;
        }
        else if (seen[number])
        {
            duplicates++;
        }
        else
        {
            seen[number] = true;
        }
    }

    var statusOk = missing == 0 && mismatched == 0 && duplicates == 0 && outOfRange == 0;
    ok &= statusOk;
    Console.WriteLine($"  stored records (GetStatus)  {(statusOk ? "PASS" : "FAIL")}: read {sample.Length:N0} of {users:N0} users " +
        $"in {readWatch.Elapsed.TotalSeconds:F2} s ({sample.Length / readWatch.Elapsed.TotalSeconds:N0}/s); missing {missing}, " +
        $"differs from Join {mismatched}, duplicate numbers {duplicates}, outside 1..N {outOfRange}; " +
        string.Join(", ", kinds.OrderBy(k => k.Key).Select(k => $"{k.Key} {k.Value:N0}")));
}
else
{
    Console.WriteLine("  stored records (GetStatus)  skipped (--verify none)");
}

if (database is not null && options.VerifySample != 0)
{
    var (rowsOk, rowsReport) = CheckStoredRows(await database.QueueEntries(eventId), eventId, userIds, tickets);
    ok &= rowsOk;
    Console.WriteLine($"  rows in queue_entries       {rowsReport}");
}

Console.WriteLine($"  overall                     {(ok ? "PASS" : "FAIL")}");

if (!options.ClusterClient && options.Storage == BenchmarkStorage.Memory)
{
    var storeBytes = await MemoryStoreBytes(eventId, userIds, tickets);
    Console.WriteLine();
    Console.WriteLine("Stored records");
    Console.WriteLine($"  MemoryQueueEntryStore       a second store, filled with the same {users:N0} records in one save per shard: " +
        $"{MemorySnapshot.Mib(storeBytes)} live heap = {(double)storeBytes / users:F1} bytes per user");
    Console.WriteLine("                              (29-byte records in one array per shard; the spare room of those arrays depends on how the saves");
    Console.WriteLine("                              were batched. The silo's own store is part of the live heap figure above.)");
}
else if (database is not null)
{
    var (saves, queueWrites, rows, rowBytes) = await database.EventFootprint(eventId);
    var (tableRows, tableBytes, indexBytes) = await database.TableFootprint();
    Console.WriteLine();
    Console.WriteLine("Stored records");
    Console.WriteLine($"  this event's rows           {rows:N0} in queue_service.queue_entries, {(rows == 0 ? 0 : (double)rowBytes / rows):F1} bytes per row " +
        "(pg_column_size of the row value; pages and index not counted)");
    Console.WriteLine($"  the whole table             {tableRows:N0} rows (every run and warm-up so far): {MemorySnapshot.Mib(tableBytes)} table + " +
        $"{MemorySnapshot.Mib(indexBytes)} primary key = {(tableRows == 0 ? 0 : (double)(tableBytes + indexBytes) / tableRows):F1} bytes per row");
    Console.WriteLine($"  shard saves                 {saves:N0} by the event's {QueueShards.Count} shards " +
        $"(sum of their versions) = {(saves == 0 ? 0 : (double)rows / saves):F1} records per shard save; the store writes the saves " +
        "that arrive together, from every shard, in one statement");
    Console.WriteLine($"  queue grain writes          {queueWrites:N0} so far (its event_service.grain_state row's version): one per ticket block of " +
        $"{queueOptions.TicketBlockSize}, plus its settings and opening; joins wait while one is in flight");
}

Console.WriteLine();
if (before is not null && after is not null)
{
    Console.WriteLine("| users | concurrency | storage | elapsed s | joins/s | CPU used | load avg before | mean ms | p99 ms | live heap B/user | working set before → after |");
    Console.WriteLine($"| {users:N0} | {options.Concurrency} | {storageName} | {elapsed.TotalSeconds:F2} | {joinsPerSecond:N0} | " +
        $"{cpuUsed.TotalSeconds / elapsed.TotalSeconds / Environment.ProcessorCount:P0} | {loadBefore.Split(' ')[0]} | {Ms((long)latencyTicks.Average())} | " +
        $"{Ms(Percentile(latencyTicks, 0.99))} | {(double)(after.LiveBytes - before.LiveBytes) / users:F1} | " +
        $"{MemorySnapshot.Mib(before.WorkingSetBytes)} → {MemorySnapshot.Mib(after.WorkingSetBytes)} |");
}
else
{
    // CPU in cores busy on average during the joins, of Environment.ProcessorCount.
    Console.WriteLine("| users | concurrency | mode | silos | elapsed s | joins/s | cores: client / silos / PostgreSQL / Redis / rest / idle | load avg before | mean ms | p99 ms | silos' VmRSS before → after |");
    Console.WriteLine($"| {users:N0} | {options.Concurrency} | {storageName} client | {options.Cluster.SiloPids.Count} | {elapsed.TotalSeconds:F2} | {joinsPerSecond:N0} | " +
        $"{split!.Client:F2} / {split.Silos:F2} / {split.Postgres:F2} / {split.Redis:F2} / {split.Other:F2} / {split.Idle:F2} | {loadBefore.Split(' ')[0]} | " +
        $"{Ms((long)latencyTicks.Average())} | {Ms(Percentile(latencyTicks, 0.99))} | " +
        $"{ClusterProcesses.Mib(split.SiloRssBefore)} → {ClusterProcesses.Mib(split.SiloRssAfter)} |");
}

if (options.ResultFile is { } resultFile)
{
    await OneRunResult.Write(resultFile, new OneRunResult(users, storageName, elapsed.TotalSeconds, joinsPerSecond,
        MeanMs: latencyTicks.Average() * 1000.0 / Stopwatch.Frequency,
        P99Ms: Percentile(latencyTicks, 0.99) * 1000.0 / Stopwatch.Frequency,
        LiveBytesPerUser: before is not null && after is not null ? (double)(after.LiveBytes - before.LiveBytes) / users : null,
        Passed: ok));
}

// On a single-silo shutdown the in-memory storage grains can be deactivated before the queue grains'
// OnDeactivateAsync writes reach them; Orleans then logs placement errors for writes that have nowhere
// to go. That happens after every figure above was taken, so it is kept out of the report.
Console.WriteLine();
Console.WriteLine(options.ClusterClient
    ? "Stopping the client (the silos keep running; warnings and errors logged during shutdown are not shown)."
    : "Stopping the silo (warnings and errors logged during shutdown are not shown; see docs/performance.md).");
ShutdownLogging.Quiet = true;
await host.StopAsync();
return ok ? 0 : 1;

static Guid[] RandomUsers(int count, Random random)
{
    var ids = new Guid[count];
    var distinct = new HashSet<Guid>(count);
    Span<byte> bytes = stackalloc byte[16];
    for (var i = 0; i < count; i++)
    {
        do
        {
            random.NextBytes(bytes);
            bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4
            bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
            ids[i] = new Guid(bytes);
        }
        while (!distinct.Add(ids[i]));
    }

    return ids;
}

// A user id that lands in the given shard (ShardOf reads the first four bytes), for activating shards
// without joining.
static Guid ProbeUserFor(int shard)
{
    Span<byte> bytes = stackalloc byte[16];
    bytes.Fill(0xEE);
    BitConverter.TryWriteBytes(bytes, (uint)shard);
    var probe = new Guid(bytes);
    return QueueShards.ShardOf(probe) == shard ? probe : throw new InvalidOperationException("Probe user lands in the wrong shard.");
}

static EventDefinition BenchmarkEvent(string eventId)
{
    var now = DateTimeOffset.UtcNow;
    return new EventDefinition(eventId, $"Join benchmark {eventId}", "Benchmark Hall",
        StartsAt: now.AddDays(30), SalesOpenAt: now.AddMinutes(-1), "KRW", TicketLimitPerUser: 4,
        Blocks: [new SeatBlockDefinition("ga", "General admission", Rows: 10, SeatsPerRow: 10, Price: 10000m)],
        // One admission a minute and one shopper at a time: admission barely moves while we measure joins.
        new QueueSettings(AdmissionsPerMinute: 1, MaxActiveShoppers: 1,
            ClaimWindow: TimeSpan.FromMinutes(2), ShoppingSession: TimeSpan.FromMinutes(10), HoldDuration: TimeSpan.FromMinutes(5)));
}

static async Task<(long Count, Exception? First)> RunJoins(
    IGrainFactory grains, string eventId, Guid[] ids, long[] tickets, long[] latencyTicks, int concurrency, bool progress)
{
    var next = -1;
    long failed = 0;
    Exception? first = null;
    using var done = new CancellationTokenSource();
    var reporter = progress ? Report(done.Token) : Task.CompletedTask;

    async Task Worker()
    {
        while (true)
        {
            var i = Interlocked.Increment(ref next);
            if (i >= ids.Length)
            {
                return;
            }

            var userId = ids[i];
            var started = Stopwatch.GetTimestamp();
            try
            {
                var status = await QueueShards.For(grains, eventId, userId).Join(userId);
                tickets[i] = status.TicketNumber ?? -1;
            }
            catch (Exception e)
            {
                tickets[i] = -1;
                if (Interlocked.Increment(ref failed) == 1)
                {
                    first = e;
                }
            }

            latencyTicks[i] = Stopwatch.GetTimestamp() - started;
        }
    }

    async Task Report(CancellationToken token)
    {
        var watch = Stopwatch.StartNew();
        try
        {
            while (true)
            {
                await Task.Delay(TimeSpan.FromSeconds(10), token);
                var joined = Math.Min(Volatile.Read(ref next), ids.Length);
                Console.Error.WriteLine($"  ... {joined:N0} joins started after {watch.Elapsed.TotalSeconds:F0} s");
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    var workers = new Task[Math.Min(concurrency, Math.Max(1, ids.Length))];
    for (var w = 0; w < workers.Length; w++)
    {
        workers[w] = Task.Run(Worker);
    }

    await Task.WhenAll(workers);
    await done.CancelAsync();
    await reporter;
    return (failed, first);
}

static async Task<QueueStatus?[]> RunStatusReads(IGrainFactory grains, string eventId, Guid[] ids, int[] indexes, int concurrency)
{
    var results = new QueueStatus?[indexes.Length];
    var next = -1;

    async Task Worker()
    {
        while (true)
        {
            var j = Interlocked.Increment(ref next);
            if (j >= indexes.Length)
            {
                return;
            }

            var userId = ids[indexes[j]];
            results[j] = await QueueShards.For(grains, eventId, userId).GetStatus(userId);
        }
    }

    var workers = new Task[Math.Min(concurrency, Math.Max(1, indexes.Length))];
    for (var w = 0; w < workers.Length; w++)
    {
        workers[w] = Task.Run(Worker);
    }

    await Task.WhenAll(workers);
    return results;
}

static (bool Ok, string Problem) CheckOneToN(long[] numbers, int n)
{
    var seen = new bool[n + 1];
    long duplicates = 0, outOfRange = 0;
    foreach (var number in numbers)
    {
        if (number < 1 || number > n)
        {
            outOfRange++;
        }
        else if (seen[number])
        {
            duplicates++;
        }
        else
        {
            seen[number] = true;
        }
    }

    return duplicates == 0 && outOfRange == 0
        ? (true, "")
        : (false, $"{duplicates:N0} duplicate numbers, {outOfRange:N0} outside 1..{n:N0}");
}

static long Percentile(long[] sorted, double p) =>
    sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

static string Ms(long ticks) => (ticks * 1000.0 / Stopwatch.Frequency).ToString("F2", CultureInfo.InvariantCulture);

static async Task<BenchmarkDatabase?> OpenDatabase(string connectionString)
{
    try
    {
        return await BenchmarkDatabase.Open(connectionString);
    }
    catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
    {
        Console.Error.WriteLine($"PostgreSQL ({connectionString}): {e.Message}");
        return null;
    }
}

// The rows the shards committed must be the joins' records exactly: one per user, numbers 1..N, each the
// number that user's Join returned.
static (bool Ok, string Report) CheckStoredRows(List<(Guid UserId, long Number)> rows, string eventId, Guid[] userIds, long[] tickets)
{
    var returned = new Dictionary<Guid, long>(userIds.Length);
    for (var i = 0; i < userIds.Length; i++)
    {
        returned[userIds[i]] = tickets[i];
    }

    var (distinct, problem) = CheckOneToN(rows.Select(r => r.Number).ToArray(), userIds.Length);
    long unknownUsers = 0, mismatched = 0;
    foreach (var (userId, number) in rows)
    {
        if (!returned.TryGetValue(userId, out var ticket))
        {
            unknownUsers++;
        }
        else if (ticket != number)
        {
            mismatched++;
        }
    }

    var ok = rows.Count == userIds.Length && distinct && unknownUsers == 0 && mismatched == 0;
    return (ok, $"{(ok ? "PASS" : "FAIL")}: {rows.Count:N0} rows with shard_key LIKE '{eventId}#%' for {userIds.Length:N0} joins; " +
        $"{(distinct ? $"numbers exactly 1..{userIds.Length:N0}" : problem)}; not a joined user {unknownUsers}, differs from Join {mismatched}");
}

// A MemoryQueueEntryStore of its own, holding the same records as the silo's and measured the same way:
// live heap after forced full collections, before and after filling it.
static async Task<long> MemoryStoreBytes(string eventId, Guid[] userIds, long[] tickets)
{
    var keys = new string[QueueShards.Count];
    var changes = new List<QueueEntryChange>[QueueShards.Count];
    for (var shard = 0; shard < QueueShards.Count; shard++)
    {
        keys[shard] = $"{eventId}#{shard}";
        changes[shard] = [];
    }

    for (var i = 0; i < userIds.Length; i++)
    {
        changes[QueueShards.ShardOf(userIds[i])].Add(new QueueEntryChange(userIds[i], new QueueEntry { Number = tickets[i] }));
    }

    var before = MemorySnapshot.Take();
    var store = new MemoryQueueEntryStore(new TicketQueue.Grains.DomainEvents.InProcessEventLog());
    for (var shard = 0; shard < QueueShards.Count; shard++)
    {
        await store.Save(keys[shard], version: 0, changes[shard], [], CancellationToken.None);
    }

    var after = MemorySnapshot.Take();
    GC.KeepAlive(store);
    GC.KeepAlive(changes);
    return after.LiveBytes - before.LiveBytes;
}

static int[] RandomSample(int count, int size)
{
    var all = Enumerable.Range(0, count).ToArray();
    Random.Shared.Shuffle(all);
    return all[..Math.Min(size, count)];
}
