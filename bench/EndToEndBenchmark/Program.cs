using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Hosting;
using TicketQueue.Bench;
using TicketQueue.Charts;
using TicketQueue.EndToEndBenchmark;
using TicketQueue.Grains.Abstractions.Events;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Queue;

// End to end at scale: N users join one event within a window, the queue admits them at the configured rate,
// and the run proves the line held: every user admitted exactly once and in ticket order, nobody lost, and
// nobody's position ever rising. One process hosts a silo configured by AddTicketQueue, as the embedded
// gateway's is (in-memory storage, the real clock, default QueueOptions); the crowd calls the grains the
// gateway would call (the user's queue shard), and observers follow the queue grain as gateways do.

if (!CommandLine.TryParse(args, BenchmarkOptions.Usage, BenchmarkOptions.Parse, out var options, out var exitCode))
{
    return exitCode;
}

var random = new Random(options.Seed);
var users = NewUsers(random, options.Users);
var shuffled = Enumerable.Range(0, options.Users).ToArray();
random.Shuffle(shuffled);
var sample = shuffled[..options.Samples];
var warmupUsers = NewUsers(random, options.WarmupUsers);

var quietShutdown = false;
// Warnings and up, until the figures are printed.
var builder = BenchSilo.Builder("end-to-end-benchmark", () => quietShutdown);
builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(30));
builder.UseOrleans(silo => silo.AddTicketQueue(builder.Configuration));

using var host = builder.Build();
await host.StartAsync();
var grains = host.Services.GetRequiredService<IGrainFactory>();
var queueOptions = host.Services.GetRequiredService<IOptions<QueueOptions>>().Value;
var window = TimeSpan.FromSeconds(options.JoinSeconds);

Console.WriteLine("TicketQueue end-to-end benchmark: one event, a crowd joining, admission at the configured rate");
Console.WriteLine($"  command            dotnet run -c Release --project bench/EndToEndBenchmark --{string.Concat(args.Select(a => " " + a))}");
Console.WriteLine($"  machine            {Machine.Describe()}");
Console.WriteLine($"  silo               in this process, configured by AddTicketQueue as the embedded gateway's: localhost clustering, " +
    $"in-memory storage, the system clock; tick every {queueOptions.TickInterval.TotalSeconds:F1} s, ticket block {queueOptions.TicketBlockSize}, " +
    $"{QueueShards.Count} shards per event");
Console.WriteLine($"  crowd              {options.Users:N0} users, one join each, arriving evenly over {options.JoinSeconds:0.##} s " +
    $"({options.Users / options.JoinSeconds:N0} a second), each join sent when due whether or not earlier ones were answered");
Console.WriteLine($"  queue              {options.AdmissionsPerMinute:N0} admissions a minute ({options.AdmissionsPerMinute / 60.0 * queueOptions.TickInterval.TotalSeconds:N0} a tick), " +
    $"at most {options.MaxActiveShoppersOrDefault:N0} active shoppers; nobody buys or leaves, so everyone stays admitted");
Console.WriteLine($"  watching           {options.Observers} queue observer(s) as gateways; {sample.Length:N0} sampled users' own status read every " +
    $"{options.SampleEvery.TotalMilliseconds:N0} ms until admitted; warm-up {options.WarmupUsers:N0} joins into a separate event");

var catalog = grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key);
var runId = DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);

// Warm-up on its own event: JIT, thread pool and Orleans caches; the measured event's tickets still start at 1.
if (warmupUsers.Length > 0)
{
    var warmupEventId = $"e2e-warmup-{runId}";
    await catalog.Create(Event(warmupEventId, admissionsPerMinute: 1_000_000, maxActiveShoppers: warmupUsers.Length));
    await Parallel.ForAsync(0, warmupUsers.Length, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, _) => await QueueShards.For(grains, warmupEventId, warmupUsers[i]).Join(warmupUsers[i]));
    await Parallel.ForAsync(0, warmupUsers.Length, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, _) => await QueueShards.For(grains, warmupEventId, warmupUsers[i]).GetStatus(warmupUsers[i]));
}

var eventId = $"e2e-{runId}";
await catalog.Create(Event(eventId, options.AdmissionsPerMinute, options.MaxActiveShoppersOrDefault));
var queue = grains.GetGrain<IEventQueueGrain>(eventId);
var watchers = Enumerable.Range(0, options.Observers).Select(_ => new QueueWatcher(grains, eventId)).ToArray();
foreach (var watcher in watchers)
{
    await watcher.Start();
}

// Sales are open by the event's definition; the queue marks itself open on its first tick.
var openWait = Stopwatch.StartNew();
while (!(await queue.GetStats()).Opened)
{
    if (openWait.Elapsed > TimeSpan.FromSeconds(30))
    {
        throw new InvalidOperationException("The queue did not open within 30 s.");
    }

    await Task.Delay(100);
}

var loadBefore = Machine.LoadAverage();
var machineBefore = Machine.Cpu();
var cpuBefore = Machine.ProcessCpu();
var arrivals = new Arrivals(grains, eventId, users, window);
var sampler = new PositionSampler(grains, eventId, users, sample, arrivals);
var timeline = new Timeline(() => arrivals.Answered, () => watchers[0].LatestCursor);
using var stopWatching = new CancellationTokenSource();
var arriving = arrivals.Run();
var recording = timeline.Run(arrivals.StartedAt, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10), stopWatching.Token);
var sampling = sampler.Run(options.SampleEvery, stopWatching.Token);
var sweeping = sampler.Sweep(options.SweepRate, stopWatching.Token);
await arriving;
var lastJoinAnswered = arrivals.AnsweredAfter.Max() / (double)Stopwatch.Frequency;

// Everyone who got a ticket must now be admitted by the ticks alone: wait for the observers to see it, allowing
// the time the configured rate needs and as much again.
var issued = (await queue.GetStats()).Issued;
var drainAllowance = TimeSpan.FromSeconds(30 + 2 * issued * 60.0 / options.AdmissionsPerMinute);
var drainWait = Stopwatch.StartNew();
while (watchers.Any(w => w.LatestCursor < issued) && drainWait.Elapsed < drainAllowance)
{
    await Task.Delay(100);
}

// The sampled users see the last admissions on their next read; the sweep reads each user until seen admitted.
await Task.WhenAny(sampling, Task.Delay(3 * options.SampleEvery + TimeSpan.FromSeconds(1)));
await Task.WhenAny(sweeping, Task.Delay(TimeSpan.FromSeconds(10 + 2.0 * options.Users / options.SweepRate)));
await stopWatching.CancelAsync();
await Task.WhenAll(sampling, sweeping, recording);
var cpuUsed = Machine.ProcessCpu() - cpuBefore;
var machineAfter = Machine.Cpu();
var runSeconds = Stopwatch.GetElapsedTime(arrivals.StartedAt).TotalSeconds;

var stats = await queue.GetStats();
var batches = watchers[0].Batches();
var lastAdmittedAt = batches.Count > 0 ? Stopwatch.GetElapsedTime(arrivals.StartedAt, batches[^1].ReceivedAt).TotalSeconds : double.NaN;
var rate = AdmissionRate.From(batches, options.AdmissionsPerMinute, queueOptions.TickInterval);
var latencies = arrivals.LatencyTicks.Where((_, i) => arrivals.Tickets[i] > 0).Select(t => t * 1000.0 / Stopwatch.Frequency).Order().ToArray();

Console.WriteLine();
Console.WriteLine("Results");
Console.WriteLine($"  joins                       {arrivals.Answered:N0} answered, {arrivals.Failed:N0} failed; the last answered {lastJoinAnswered:F2} s after the first arrival " +
    $"= {arrivals.Answered / lastJoinAnswered:N0} joins per second (paced at {options.Users / options.JoinSeconds:N0})");
Console.WriteLine($"  join latency                from the moment the user was due: p50 {Chart.Percentile(latencies, 50):F2} ms, p99 {Chart.Percentile(latencies, 99):F2} ms, " +
    $"max {latencies.LastOrDefault():F2} ms; at most {arrivals.MaxInFlight:N0} joins in flight; the driver started a join at most " +
    $"{arrivals.MaxLaunchLag.TotalMilliseconds:F1} ms late");
Console.WriteLine($"  admission                   {stats.Admitted:N0} of {stats.Issued:N0} tickets admitted in {batches.Count:N0} ticks, the last " +
    $"{lastAdmittedAt:F2} s after the first arrival (at the configured rate the line needs {issued * 60.0 / options.AdmissionsPerMinute:F1} s)");
Console.WriteLine($"  admissions per minute       configured {options.AdmissionsPerMinute:N0}; achieved {Format(rate.ObservedPerMinute)} on the observer's clock " +
    $"({Format(rate.AchievedPerMinute)} on the times the queue stamped) over the {rate.FullTicks:N0} ticks " +
    $"that ran with people still waiting after them; by minute since the first admission: {string.Join(", ", rate.PerMinute.Select(m => $"{m:N0}"))}");
Console.WriteLine($"  admissions per tick         configured {rate.ExpectedPerTick:N1}; while people waited: mean {Format(rate.MeanPerFullTick, "N1")}, " +
    $"min {Format(rate.MinPerFullTick)}, max {Format(rate.MaxPerFullTick)}; time between ticks mean {rate.MeanTickGapSeconds:F3} s, max {rate.MaxTickGapSeconds:F3} s");
Console.WriteLine($"  sampled positions           {sampler.Reads:N0} reads of {sampler.SampleSize:N0} users' own status; {sampler.Admitted:N0} of them seen admitted");
var readWaiting = sampler.SweepWaitingReadsPerUser.Count(n => n > 0);
Console.WriteLine($"  every user's position       the sweep: {sampler.SweepReads:N0} reads of all {options.Users:N0} users' own status " +
    $"({(double)sampler.SweepReads / options.Users:F1} a user, min {sampler.SweepReadsPerUser.DefaultIfEmpty().Min()}), {readWaiting:N0} users read while still waiting " +
    $"(max {sampler.SweepWaitingReadsPerUser.DefaultIfEmpty().Max()} times); {sampler.SweptAdmitted:N0} seen admitted");
Console.WriteLine($"  CPU used by this process    {cpuUsed.TotalSeconds:F1} s = {cpuUsed.TotalSeconds / runSeconds / Environment.ProcessorCount:P0} of " +
    $"{Environment.ProcessorCount} cores over {runSeconds:F1} s (silo and crowd together)");
Console.WriteLine($"  CPU busy on the machine     {Machine.Busy(machineBefore, machineAfter)}; load average before {loadBefore}");

// Correctness: every user's own record must agree with what the observers saw.
Console.WriteLine();
Console.WriteLine("Correctness");
var ok = true;
void Check(string name, bool passed, string detail)
{
    ok &= passed;
    Console.WriteLine($"  {name,-27} {(passed ? "PASS" : "FAIL")}: {detail}");
}

Check("joins", arrivals.Failed == 0 && arrivals.Answered == options.Users,
    $"{arrivals.Answered:N0} of {options.Users:N0} answered with a ticket, {arrivals.Failed:N0} failed" +
    (arrivals.FirstFailure is { } failure ? $" (first: {failure.GetType().Name}: {failure.Message.Split('\n')[0]})" : ""));

var tickets = arrivals.Tickets;
var distinctInRange = tickets.Where(t => t >= 1 && t <= options.Users).Distinct().Count();
Check("tickets", distinctInRange == options.Users && stats.Issued == options.Users,
    $"{distinctInRange:N0} distinct tickets within 1..{options.Users:N0} (must be all of them); the queue issued {stats.Issued:N0}");

for (var w = 0; w < watchers.Length; w++)
{
    var seen = watchers[w].Batches();
    var notContiguous = seen.Select((b, i) => b.FromExclusive != (i == 0 ? 0 : seen[i - 1].ToInclusive) || b.ToInclusive <= b.FromExclusive
        || (i > 0 && b.AdmittedAt <= seen[i - 1].AdmittedAt)).Count(bad => bad);
    var decreases = watchers[w].CursorDecreases();
    var sameAsFirst = w == 0 || seen.Select(b => (b.FromExclusive, b.ToInclusive, b.AdmittedAt))
        .SequenceEqual(batches.Select(b => (b.FromExclusive, b.ToInclusive, b.AdmittedAt)));
    var last = seen.Count > 0 ? seen[^1].ToInclusive : 0;
    Check($"observer {w + 1}", decreases == 0 && notContiguous == 0 && last == options.Users && sameAsFirst,
        $"{watchers[w].Updates.Count:N0} updates, {seen.Count:N0} admission batches; cursor moved back {decreases} times; batches not following " +
        $"on from the one before (or not later) {notContiguous}; last admitted {last:N0}; " + (w == 0 ? "" : $"same batches as observer 1: {sameAsFirst}; ") +
        "so every user's position (ticket - cursor) only fell");
}

// Each user's own record, read back without claiming: admitted, with their ticket, in the batch the observers
// saw admit that ticket, and only in that one.
var finals = new QueueStatus?[options.Users];
await Parallel.ForAsync(0, options.Users, new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (i, _) => finals[i] = await QueueShards.For(grains, eventId, users[i]).GetStatus(users[i]));
var starts = batches.Select(b => b.FromExclusive).ToArray();
long notAdmitted = 0, wrongTicket = 0, wrongBatch = 0;
var batchIds = new Dictionary<int, HashSet<int>>();
for (var i = 0; i < options.Users; i++)
{
    if (finals[i] is not { Status: QueueStatusKind.Admitted, BatchId: { } batchId } status)
    {
        notAdmitted++;
        continue;
    }

    if (status.TicketNumber != tickets[i])
    {
        wrongTicket++;
        continue;
    }

    var index = Array.BinarySearch(starts, status.TicketNumber!.Value);
    index = index >= 0 ? index - 1 : ~index - 1;
    if (index < 0 || status.TicketNumber > batches[index].ToInclusive || status.AdmittedAt != batches[index].AdmittedAt)
    {
        wrongBatch++;
        continue;
    }

    if (!batchIds.TryGetValue(index, out var ids))
    {
        batchIds[index] = ids = [];
    }

    ids.Add(batchId);
}

// The final read continues each user's sweep: its cursor must not be behind what the sweep saw last.
for (var i = 0; i < options.Users; i++)
{
    sampler.CheckFinal(i, finals[i]);
}

// One batch id per observed batch, and no id in two of them: each ticket belongs to exactly one admission.
var batchIdsSplit = batchIds.Values.Count(ids => ids.Count != 1) + (batchIds.Values.SelectMany(ids => ids).Count() - batchIds.Values.SelectMany(ids => ids).Distinct().Count());
Check("admitted once, in order", notAdmitted == 0 && wrongTicket == 0 && wrongBatch == 0 && batchIdsSplit == 0,
    $"{options.Users - notAdmitted - wrongTicket - wrongBatch:N0} users admitted with their ticket in the batch the observers saw; not admitted (or no record) " +
    $"{notAdmitted}; another ticket {wrongTicket}; admitted at another time than their batch {wrongBatch}; batches with more than one id, or ids in two batches {batchIdsSplit}");

Check("positions never rose", sampler.ViolationCount == 0 && sampler.Admitted == sampler.SampleSize && sampler.SweptAdmitted == options.Users
    && sampler.SweepReadsPerUser.All(n => n > 0),
    $"every user's join answer, the sweep's {sampler.SweepReads:N0} reads (each user until seen admitted: {sampler.SweptAdmitted:N0} of {options.Users:N0}) " +
    $"and the final read, and {sampler.Reads:N0} reads of {sampler.SampleSize:N0} sampled users every {options.SampleEvery.TotalMilliseconds:N0} ms " +
    $"(seen admitted {sampler.Admitted:N0}); position rose, cursor moved back, ticket changed or record missing: {sampler.ViolationCount}" +
    (sampler.Violations.Count > 0 ? $" (first: {sampler.Violations[0]})" : ""));
Console.WriteLine($"  {"overall",-27} {(ok ? "PASS" : "FAIL")}");

Console.WriteLine();
Console.WriteLine("Targets");
var joinsKeptPace = lastJoinAnswered <= options.JoinSeconds + 1;
Console.WriteLine($"  {$"{options.Users:N0} joins in {options.JoinSeconds:0.##} s",-27} target: the last answered by {options.JoinSeconds + 1:0.##} s; measured {lastJoinAnswered:F2} s: " +
    $"{(joinsKeptPace ? "PASS" : "MISS")}");
var rateKept = rate.ObservedPerMinute is { } observed && Math.Abs(observed - options.AdmissionsPerMinute) <= 0.05 * options.AdmissionsPerMinute;
Console.WriteLine($"  admission rate              target: within 5 % of {options.AdmissionsPerMinute:N0} a minute while people wait, on the observer's clock; " +
    $"measured {Format(rate.ObservedPerMinute)}: " +
    (rate.ObservedPerMinute is null ? "n/a (no two ticks in a row left people waiting, so no tick was sized by the rate alone)" : rateKept ? "PASS" : "MISS"));

Console.WriteLine();
var table = new Table("users", "join window s", "joined/s (paced)", "last join answered s", "join p50 / p99 / max ms",
    "admitted/min configured", "admitted/min achieved (observer's clock)", "admitted per tick (configured)", "all admitted at s", "checks");
table.Row(options.Users, options.JoinSeconds, $"{arrivals.Answered / lastJoinAnswered:N0} ({options.Users / options.JoinSeconds:N0})", lastJoinAnswered,
    $"{Chart.Percentile(latencies, 50):F1} / {Chart.Percentile(latencies, 99):F1} / {latencies.LastOrDefault():F1}",
    options.AdmissionsPerMinute, Format(rate.ObservedPerMinute), $"{Format(rate.MeanPerFullTick, "N1")} ({rate.ExpectedPerTick:N1})", lastAdmittedAt,
    ok ? "PASS" : "FAIL");
Console.WriteLine(table);

var points = timeline.Points;
var chartPath = Chart.Lines(Chart.DocsPath("end-to-end"),
    $"End to end: {options.Users:N0} users join over {options.JoinSeconds:0.##} s, admitted at {options.AdmissionsPerMinute:N0}/min",
    "seconds since the first arrival", "users",
    [
        new Series("joined (answered)", [.. points.Select(p => p.Seconds)], [.. points.Select(p => (double)p.Joined)]),
        new Series("admitted (serving cursor)", [.. points.Select(p => p.Seconds)], [.. points.Select(p => (double)p.Admitted)]),
    ]);
Console.WriteLine($"Chart: {chartPath}");
Console.WriteLine($"Overall: {(ok ? "PASS" : "FAIL")}");

Console.WriteLine();
Console.WriteLine("Stopping the silo (warnings and errors logged during shutdown are not shown).");
foreach (var watcher in watchers)
{
    await watcher.DisposeAsync();
}

quietShutdown = true;
await host.StopAsync();
return ok ? 0 : 1;

static EventDefinition Event(string eventId, int admissionsPerMinute, int maxActiveShoppers)
{
    var now = DateTimeOffset.UtcNow;
    return new EventDefinition(eventId, $"End-to-end benchmark {eventId}", "Benchmark Hall",
        StartsAt: now.AddDays(30), SalesOpenAt: now.AddMinutes(-1), "KRW", TicketLimitPerUser: 4,
        Blocks: [new SeatBlockDefinition("floor", "Floor", 10, 100, 10_000m)],
        // Admitted shoppers stay admitted for longer than any run lasts: the final check expects everyone admitted.
        new QueueSettings(admissionsPerMinute, maxActiveShoppers,
            ClaimWindow: TimeSpan.FromMinutes(30), ShoppingSession: TimeSpan.FromHours(2), HoldDuration: TimeSpan.FromMinutes(10)));
}

static Guid[] NewUsers(Random random, int count)
{
    var users = new Guid[count];
    Span<byte> bytes = stackalloc byte[16];
    for (var i = 0; i < count; i++)
    {
        random.NextBytes(bytes);
        users[i] = new Guid(bytes);
    }

    return users;
}

static string Format(double? value, string format = "N0") => value?.ToString(format, CultureInfo.InvariantCulture) ?? "n/a";

