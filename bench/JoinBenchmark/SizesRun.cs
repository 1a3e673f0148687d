using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using ScottPlot;
using TicketQueue.Bench;
using TicketQueue.Charts;

namespace TicketQueue.JoinBenchmark;

/// <summary>
/// <c>--sizes</c>: one run of this program per size, each in a process of its own (a fresh silo and heap),
/// then the Redis sorted-set baseline for the same sizes, one table of everything and two charts:
/// docs/performance/grain-memory.png and grain-joins.png.
/// </summary>
internal static class SizesRun
{
    private const double TargetBytesPerUser = 100;

    public static async Task<int> Run(BenchmarkOptions options, IReadOnlyList<int> sizes, string[] args)
    {
        Console.WriteLine("TicketQueue join benchmark, one fresh process per size");
        Console.WriteLine($"  command            {Machine.CommandLine("bench/JoinBenchmark", args)}");
        Console.WriteLine($"  machine            {Machine.Describe()}");
        Console.WriteLine($"  load average       {Machine.LoadAverage()} (1/5/15 min, at start; other processes share these cores)");
        Console.WriteLine($"  sizes              {string.Join(", ", sizes.Select(s => s.ToString("N0", CultureInfo.InvariantCulture)))} users joining one event");

        var folder = Directory.CreateTempSubdirectory("ticketqueue-join-sizes-").FullName;
        using var children = new ChildProcesses(folder);
        var runs = new List<(int Size, int ExitCode, OneRunResult? Result)>();
        foreach (var size in sizes)
        {
            var resultFile = Path.Combine(folder, $"{size}.json");
            var runArgs = BenchmarkOptions.OneRunArgs(args, size, resultFile);
            Console.WriteLine();
            Console.WriteLine($"=== {size:N0} users: {Machine.CommandLine("bench/JoinBenchmark", [.. runArgs])}");
            var exitCode = await children.Run(runArgs);
            runs.Add((size, exitCode, await OneRunResult.Read(resultFile)));
        }

        var redis = new Dictionary<int, (double BytesPerMember, long Members)>();
        string? redisServer = null;
        if (options.RedisBaseline)
        {
            Console.WriteLine();
            Console.WriteLine("=== Redis sorted-set baseline: one sorted set, ZADD NX of N user ids (text), used_memory before and after");
            await using var baseline = await RedisBaseline.TryStart(Path.Combine(folder, "redis"), children.Track);
            if (baseline is not null)
            {
                redisServer = $"redis-server {baseline.Version} ({baseline.Allocator})";
                foreach (var size in sizes)
                {
                    redis[size] = await baseline.BytesPerMember(size, options.Seed);
                    Console.WriteLine($"  {size,9:N0} members: {redis[size].BytesPerMember:F1} bytes each (ZCARD {redis[size].Members:N0})");
                }
            }
        }

        return Report(options, runs, redis, redisServer);
    }

    private static int Report(BenchmarkOptions options, List<(int Size, int ExitCode, OneRunResult? Result)> runs,
        Dictionary<int, (double BytesPerMember, long Members)> redis, string? redisServer)
    {
        Console.WriteLine();
        Console.WriteLine($"Joins into one event, {options.Concurrency} in flight, storage {options.Storage.ToString().ToLowerInvariant()}, a fresh process per size");
        var table = new Table("waiting users", "joins/s", "mean ms", "p99 ms", "live heap per waiting user", "target ≤ 100 B",
            "Redis sorted set per member", "checks");
        var failures = new List<string>();
        foreach (var (size, exitCode, result) in runs)
        {
            var redisCell = redis.TryGetValue(size, out var r) ? $"{r.BytesPerMember:F1} B" : "-";
            if (redis.TryGetValue(size, out var counted) && counted.Members != size)
            {
                failures.Add($"Redis baseline at {size:N0}: ZCARD {counted.Members:N0}");
            }

            if (result is null)
            {
                failures.Add($"{size:N0} users: the run exited with {exitCode} and left no figures");
                table.Row(size, "-", "-", "-", "-", "-", redisCell, $"FAIL (exit {exitCode})");
                continue;
            }

            if (exitCode != 0 || !result.Passed)
            {
                failures.Add($"{size:N0} users: a correctness check failed (exit {exitCode}; see that run's output above)");
            }

            table.Row(size, result.JoinsPerSecond, result.MeanMs.ToString("F2", CultureInfo.InvariantCulture),
                result.P99Ms.ToString("F2", CultureInfo.InvariantCulture),
                result.LiveBytesPerUser is { } live ? $"{live:F1} B" : "-",
                result.LiveBytesPerUser is { } bytes ? (bytes <= TargetBytesPerUser ? "PASS" : "MISS") : "-",
                redisCell, exitCode == 0 && result.Passed ? "PASS" : "FAIL");
        }

        Console.WriteLine(table);
        Console.WriteLine("The silo: live heap after forced compacting full collections, per user, every join answered (so its record " +
            $"committed to the {options.Storage.ToString().ToLowerInvariant()} queue record store); the target applies to it.");
        Console.WriteLine(redisServer is null
            ? $"Redis: not measured; the chart shows the cited figure of about {RedisBaseline.CitedBytesPerMember} bytes per member."
            : $"Redis: {redisServer}, used_memory (INFO memory) per member of one sorted set, user ids as 32-character text (format N, as bench/RedisQueueBaseline stores them).");

        var measured = runs.Where(r => r.Result is not null).Select(r => (r.Size, Result: r.Result!)).ToList();
        if (measured.Count > 0)
        {
            Console.WriteLine($"Chart: {MemoryChart(measured, redis, redisServer)}");
            Console.WriteLine($"Chart: {Chart.Bars(Chart.DocsPath("grain-joins"),
                $"Joins per second into one event ({options.Storage.ToString().ToLowerInvariant()} storage, one silo in process, " +
                $"{options.Concurrency} in flight, {Environment.ProcessorCount} cores)",
                "joins per second", [.. measured.Select(m => (Short(m.Size) + " users", m.Result.JoinsPerSecond))])}");
        }

        Console.WriteLine();
        Console.WriteLine($"Correctness: {(failures.Count == 0 ? "PASS" : "FAIL")}");
        foreach (var failure in failures)
        {
            Console.WriteLine($"  FAIL {failure}");
        }

        return failures.Count == 0 ? 0 : 1;
    }

    // Charts.Chart.Lines cannot pin the y axis at zero or draw a target line, and a memory figure read off an
    // axis that starts at 80 bytes misleads: this chart is drawn here.
    private static string MemoryChart(List<(int Size, OneRunResult Result)> measured,
        Dictionary<int, (double BytesPerMember, long Members)> redis, string? redisServer)
    {
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var silo = measured.Where(m => m.Result.LiveBytesPerUser is not null).ToList();
        var siloLine = plot.Add.Scatter(silo.Select(m => Math.Log10(m.Size)).ToArray(), silo.Select(m => m.Result.LiveBytesPerUser!.Value).ToArray());
        siloLine.LegendText = "TicketQueue silo: live heap per waiting user";
        siloLine.Color = palette.GetColor(0);
        siloLine.LineWidth = 2;
        siloLine.MarkerSize = 8;
        AddLabels(plot, silo.Select(m => (m.Size, m.Result.LiveBytesPerUser!.Value)), palette.GetColor(0));

        var highest = silo.Select(m => m.Result.LiveBytesPerUser!.Value).DefaultIfEmpty(0).Max();
        if (redis.Count > 0)
        {
            var points = measured.Where(m => redis.ContainsKey(m.Size)).Select(m => (m.Size, redis[m.Size].BytesPerMember)).ToList();
            var redisLine = plot.Add.Scatter(points.Select(p => Math.Log10(p.Size)).ToArray(), points.Select(p => p.BytesPerMember).ToArray());
            redisLine.LegendText = $"Redis sorted set, ZADD NX of user ids as text: used_memory per member ({redisServer})";
            redisLine.Color = palette.GetColor(3);
            redisLine.LineWidth = 2;
            redisLine.MarkerSize = 8;
            AddLabels(plot, points, palette.GetColor(3));
            highest = Math.Max(highest, points.Max(p => p.BytesPerMember));
        }
        else
        {
            var cited = plot.Add.HorizontalLine(RedisBaseline.CitedBytesPerMember);
            cited.LinePattern = LinePattern.Dotted;
            cited.LineWidth = 2;
            cited.Color = palette.GetColor(3);
            cited.LegendText = $"Redis sorted set: cited figure, about {RedisBaseline.CitedBytesPerMember} B per member (not measured here)";
            highest = Math.Max(highest, RedisBaseline.CitedBytesPerMember);
        }

        var target = plot.Add.HorizontalLine(TargetBytesPerUser);
        target.LinePattern = LinePattern.Dashed;
        target.LineWidth = 2;
        target.Color = Colors.Red;
        target.LegendText = $"target: at most {TargetBytesPerUser} B per waiting user";

        plot.Axes.Bottom.SetTicks([.. measured.Select(m => Math.Log10(m.Size))], [.. measured.Select(m => Short(m.Size))]);
        var left = Math.Log10(measured.Min(m => m.Size));
        var right = Math.Log10(measured.Max(m => m.Size));
        plot.Axes.SetLimits(left - 0.25, right + 0.25, 0, Math.Max(highest, TargetBytesPerUser) * 1.45);
        plot.ShowLegend(Alignment.UpperLeft);
        plot.Title($"Memory per waiting user ({Environment.ProcessorCount} cores)");
        plot.XLabel("people waiting in one event (log scale)");
        plot.YLabel("bytes per waiting user");
        var path = Chart.DocsPath("grain-memory");
        plot.SavePng(path, 900, 520);
        return path;
    }

    private static void AddLabels(Plot plot, IEnumerable<(int Size, double Bytes)> points, Color color)
    {
        foreach (var (size, bytes) in points)
        {
            var label = plot.Add.Text($"{bytes:F1} B", Math.Log10(size), bytes);
            label.LabelFontColor = color;
            label.LabelFontSize = 13;
            label.OffsetY = -8;
            label.LabelAlignment = Alignment.LowerCenter;
        }
    }

    private static string Short(int size) =>
        size >= 1_000_000 ? $"{size / 1_000_000.0:0.#} M" : size >= 1_000 ? $"{size / 1_000.0:0.#} K" : size.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The processes this series starts (its runs, redis-server) and its scratch folder (the runs' figures), stopped
    /// and deleted whatever way the series ends: normally, by an exception, or by Ctrl-C / SIGTERM / SIGHUP.
    /// </summary>
    private sealed class ChildProcesses : IDisposable
    {
        private readonly string _scratch;
        private readonly List<Process> _processes = [];
        private readonly List<PosixSignalRegistration> _signals;

        public ChildProcesses(string scratch)
        {
            _scratch = scratch;
            _signals = [.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT }
                .Select(signal => PosixSignalRegistration.Create(signal, _ => StopAll()))];
            AppDomain.CurrentDomain.ProcessExit += OnExit;
        }

        public void Track(Process process)
        {
            lock (_processes)
            {
                _processes.Add(process);
            }
        }

        /// <summary>This program again, with the given arguments, its output on this console; returns its exit code.</summary>
        public async Task<int> Run(IReadOnlyList<string> args)
        {
            var self = Environment.ProcessPath ?? throw new InvalidOperationException("No path to this program.");
            var start = new ProcessStartInfo(self) { UseShellExecute = false };
            // Run through the dotnet host ("dotnet TicketQueue.JoinBenchmark.dll"): name the assembly again.
            if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            {
                start.ArgumentList.Add(typeof(SizesRun).Assembly.Location);
            }

            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {self}.");
            Track(process);
            await process.WaitForExitAsync();
            lock (_processes)
            {
                _processes.Remove(process);
            }

            return process.ExitCode;
        }

        public void Dispose()
        {
            AppDomain.CurrentDomain.ProcessExit -= OnExit;
            foreach (var signal in _signals)
            {
                signal.Dispose();
            }

            StopAll();
        }

        private void OnExit(object? sender, EventArgs e) => StopAll();

        private void StopAll()
        {
            Process[] running;
            lock (_processes)
            {
                running = [.. _processes];
            }

            foreach (var process in running)
            {
                RedisBaseline.Stop(process);
            }

            try
            {
                Directory.Delete(_scratch, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }
}
