using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using TicketQueue.Charts;
using TicketQueue.Bench;
using TicketQueue.TickBenchmark;

// The cost of one admission tick with 1 K to 1 M people waiting, measured twice: the tick's own logic
// (AdmissionPacer.Tick) under BenchmarkDotNet on a steady queue, and the whole tick of the queue grain in
// a real silo holding that many joined users. The design says a tick is O(1) in the people waiting; the
// target is 1 M within 2x of 1 K.

if (!TicketQueue.Bench.CommandLine.TryParse(args, TickOptions.Usage, TickOptions.Parse, out var options, out var exitCode))
{
    return exitCode;
}

var sizes = options.Sizes;
var failures = new List<string>();

Console.WriteLine("TicketQueue admission tick benchmark");
Console.WriteLine($"  command        {Machine.CommandLine("bench/TickBenchmark", args)}");
Console.WriteLine($"  machine        {Machine.Describe()}");
Console.WriteLine($"  load average   {Machine.LoadAverage()} (1/5/15 min, at start; other processes share these cores)");
Console.WriteLine($"  sizes          {string.Join(", ", sizes.Select(s => s.ToString("N0", CultureInfo.InvariantCulture)))} waiting");
Console.WriteLine($"  tick logic     AdmissionPacer.Tick on a steady queue: {SteadyQueue.SessionBatches} admission batches (a full " +
    $"{SteadyQueue.Settings.ShoppingSession.TotalMinutes:F0}-minute session at one batch a {SteadyQueue.TickInterval.TotalSeconds:F0} s tick), " +
    $"{SteadyQueue.AdmittedPerTick} admitted and {SteadyQueue.AdmittedPerTick} joining per tick; BenchmarkDotNet " +
    $"{(options.DryJob ? "Dry job (figures meaningless)" : "job of 3 warm-up and 9 measured iterations")}, in process; the median compared");
Console.WriteLine($"  whole tick     a fresh silo per size, after a warm-up round (AddTicketQueue, in-memory storage); N users join " +
    $"through the shards while the queue is paused; then {options.WarmupTicks} + {options.Ticks} admitting ticks of {options.AdmittedPerTick} every " +
    $"{options.TickInterval.TotalMilliseconds:F0} ms, the last {options.Ticks} timed by the grain (QueueMetrics.TickDuration: " +
    "pacing, the state write, the broadcast to one observer)");
Console.WriteLine();

var logic = new Dictionary<int, (double MedianNs, long? AllocatedBytes)>();
if (options.Parts != TickParts.Grain)
{
    foreach (var size in sizes)
    {
        if (SteadyQueue.Check(size, ticks: (2 * SteadyQueue.SessionBatches) + 10) is { } problem)
        {
            failures.Add($"tick logic at {size:N0} waiting: {problem}");
        }
    }

    Console.WriteLine($"Tick logic checks: {(failures.Count == 0 ? "PASS" : "FAIL")}: every tick of a steady queue admits exactly " +
        $"{SteadyQueue.AdmittedPerTick} from the cursor, forgets one batch and leaves as many waiting, at every size");
    AdmissionTickBenchmarks.Sizes = [.. sizes.Select(s => (long)s)];
    var summary = BenchmarkRunner.Run<AdmissionTickBenchmarks>(BenchmarkConfig(options.DryJob));
    foreach (var report in summary.Reports)
    {
        var waiting = Convert.ToInt32(report.BenchmarkCase.Parameters[nameof(AdmissionTickBenchmarks.Waiting)], CultureInfo.InvariantCulture);
        if (report.ResultStatistics is { } statistics)
        {
            logic[waiting] = (statistics.Median, report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase));
        }
        else
        {
            failures.Add($"BenchmarkDotNet has no result for {waiting:N0} waiting");
        }
    }
}

var grain = new Dictionary<int, GrainTickResult>();
if (options.Parts != TickParts.Logic)
{
    // The sizes run one after another in this process: without a round first, only the first size would
    // be timed with code the JIT has not optimised yet.
    Console.WriteLine($"Whole tick in a silo: a warm-up round at {sizes[0]:N0} waiting, not reported ...");
    var warmup = await GrainTicks.Measure(sizes[0], options);
    failures.AddRange(warmup.Failures.Select(f => $"silo with {sizes[0]:N0} waiting (warm-up round): {f}"));
    foreach (var size in sizes)
    {
        Console.WriteLine($"Whole tick in a silo, {size:N0} waiting ...");
        var result = await GrainTicks.Measure(size, options);
        grain[size] = result;
        failures.AddRange(result.Failures.Select(f => $"silo with {size:N0} waiting: {f}"));
        Console.WriteLine($"  filled in {result.JoinTime.TotalSeconds:F1} s ({size / result.JoinTime.TotalSeconds:N0} joins/s); " +
            $"{result.TickMs.Length} ticks timed: median {Micros(result.Median)}, p99 {Micros(result.P99)}, max {Micros(result.Max)}; " +
            $"{result.Admitted:N0} admitted; {result.Gen2Collections} gen-2 collections meanwhile; checks " +
            $"{(result.Failures.Count == 0 ? "PASS" : "FAIL: " + string.Join("; ", result.Failures))}");
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
    }
}

var smallest = sizes[0];
// No p99 column: of 50 timed ticks the nearest-rank p99 is the slowest one, the max.
var table = new Table("waiting", "tick logic, median (BenchmarkDotNet)", "allocated per tick", "whole tick in the silo: median", "max",
    "gen-2 GCs during the warm-up and timed ticks", "filling the queue");
foreach (var size in sizes)
{
    var l = logic.TryGetValue(size, out var found) ? found : ((double MedianNs, long? AllocatedBytes)?)null;
    var g = grain.GetValueOrDefault(size);
    table.Row(size, l is { } x ? Nanos(x.MedianNs) : "-", l?.AllocatedBytes is { } bytes ? $"{bytes:N0} B" : "-",
        g is null ? "-" : Micros(g.Median), g is null ? "-" : Micros(g.Max),
        g is null ? "-" : g.Gen2Collections, g is null ? "-" : $"{g.JoinTime.TotalSeconds:F1} s");
}

Console.WriteLine();
Console.WriteLine(table);

var largest = sizes[^1];
double? logicRatio = logic.TryGetValue(largest, out var big) && logic.TryGetValue(smallest, out var small) ? big.MedianNs / small.MedianNs : null;
double? grainRatio = grain.TryGetValue(largest, out var bigGrain) && grain.TryGetValue(smallest, out var smallGrain)
    ? bigGrain.Median / smallGrain.Median
    : null;
Console.WriteLine($"Target: admission tick at {largest:N0} waiting within 2x of its cost at {smallest:N0}");
Console.WriteLine($"  whole tick in silo (median)  {Verdict(grainRatio)}   (the verdict: real joins fill a real queue grain)");
// The logic's benchmark state has the same shape at every size (only the numbers differ), so it is flat by
// construction: it shows what the logic costs, and cannot show growth with the line.
Console.WriteLine($"  tick logic (median)          {(logicRatio is { } lr ? $"{lr:F2}x" : "not measured")} (for information: flat by construction)");
Console.WriteLine();
Console.WriteLine($"Correctness: {(failures.Count == 0 ? "PASS" : "FAIL")}");
foreach (var failure in failures)
{
    Console.WriteLine($"  FAIL {failure}");
}

// The chart in the docs shows both measurements from one run; a run of one part leaves it alone.
if (logic.Count > 0 && grain.Count > 0)
{
    var groups = sizes.Select(size => new TickChart.Group(
        Label: Short(size),
        LogicRatio: logic.TryGetValue(size, out var l) && logic.TryGetValue(smallest, out var s) ? l.MedianNs / s.MedianNs : null,
        LogicText: logic.TryGetValue(size, out var text) ? Nanos(text.MedianNs) : "",
        GrainRatio: grain.TryGetValue(size, out var g) && grain.TryGetValue(smallest, out var sg) ? g.Median / sg.Median : null,
        GrainText: grain.TryGetValue(size, out var gt) ? Micros(gt.Median) : "")).ToList();
    var path = TickChart.Draw(Chart.DocsPath("tick-cost"),
        $"Admission tick cost vs people waiting ({Environment.ProcessorCount} cores)", groups);
    Console.WriteLine($"Chart: {path}");
}

return failures.Count == 0 ? 0 : 1;

static IConfig BenchmarkConfig(bool dry)
{
    // In process: no generated project to build, and the sizes set above are the ones measured. ShortRun's
    // three iterations swung by 50 % on a shared machine; nine, compared by their median, hold still.
    var job = (dry ? Job.Dry : Job.Default.WithLaunchCount(1).WithWarmupCount(3).WithIterationCount(9))
        .WithToolchain(InProcessEmitToolchain.Instance);
    return ManualConfig.Create(DefaultConfig.Instance)
        .AddJob(job)
        // BenchmarkDotNet's own reports (Markdown, CSV, HTML) go under bin/, out of the repository's way.
        .WithArtifactsPath(Path.Combine(AppContext.BaseDirectory, "BenchmarkDotNet.Artifacts"))
        .WithOptions(ConfigOptions.DisableLogFile)
        .AddColumn(StatisticColumn.Median, StatisticColumn.Min, StatisticColumn.Max)
        .WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(20));
}

static string Verdict(double? ratio) =>
    ratio is { } r ? $"{r:F2}x -> {(r <= 2 ? "PASS" : "MISS")}" : "not measured";

static string Nanos(double nanoseconds) =>
    nanoseconds < 1_000 ? $"{nanoseconds:N0} ns" : $"{nanoseconds / 1_000:N2} µs";

static string Micros(double milliseconds) =>
    double.IsNaN(milliseconds) ? "-" : $"{milliseconds * 1000:N0} µs";

static string Short(int size) =>
    size >= 1_000_000 ? $"{size / 1_000_000.0:0.#} M" : size >= 1_000 ? $"{size / 1_000.0:0.#} K" : size.ToString(CultureInfo.InvariantCulture);
