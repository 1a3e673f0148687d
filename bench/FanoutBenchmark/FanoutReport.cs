using System.Diagnostics;
using System.Globalization;
using TicketQueue.Charts;

namespace TicketQueue.FanoutBenchmark;

/// <summary>Turns what a run measured into the figures, the checks, the tables and the chart.</summary>
public sealed class FanoutReport(FanoutOptions options)
{
    private const double TargetMilliseconds = 500;

    private readonly List<string> _sections = [];
    private CpuUse? _idle;
    private double? _gatewayBytesPerConnection;
    private double? _targetFigure;

    public void Joined(int users, TimeSpan elapsed) =>
        _sections.Add($"Joins (POST /api/events/{{id}}/queue, {options.JoinConcurrency} in flight): {users:N0} in {elapsed.TotalSeconds:F2} s, " +
            $"{users / elapsed.TotalSeconds:N0} joins/s.");

    public void Connected(Connecting connecting)
    {
        var sorted = connecting.Milliseconds.Order().ToArray();
        var table = new Table("step", "connections", "seconds", "per second", "p50 ms", "p99 ms", "max ms", "retries", "CPU (cores busy)")
            .Row("open WebSocket + Follow", sorted.Length, connecting.Elapsed.TotalSeconds, sorted.Length / connecting.Elapsed.TotalSeconds,
                Ms(Chart.Percentile(sorted, 50)), Ms(Chart.Percentile(sorted, 99)), Ms(sorted.LastOrDefault()), connecting.Retries,
                connecting.Cpu.Describe());
        _sections.Add($"## Opening the connections ({options.ConnectConcurrency} at a time)\n\n{table}");
    }

    public void Memory(MemoryReading gatewayBefore, MemoryReading gatewayAfter, MemoryReading ownBefore, MemoryReading ownAfter)
    {
        var n = options.Connections;
        _gatewayBytesPerConnection = PerConnection(gatewayBefore.RssBytes, gatewayAfter.RssBytes);
        var table = new Table("process", "reading", $"before the {n:N0} connections", "after all follow", "per connection")
            .Row("gateway", "VmRSS (after a forced full GC)", Mib(gatewayBefore.RssBytes), Mib(gatewayAfter.RssBytes), Bytes(_gatewayBytesPerConnection))
            .Row("gateway", "live managed heap (after that GC)", Mib(gatewayBefore.LiveHeapBytes), Mib(gatewayAfter.LiveHeapBytes),
                Bytes(PerConnection(gatewayBefore.LiveHeapBytes, gatewayAfter.LiveHeapBytes)))
            .Row("benchmark (all clients)", "VmRSS", Mib(ownBefore.RssBytes), Mib(ownAfter.RssBytes), Bytes(PerConnection(ownBefore.RssBytes, ownAfter.RssBytes)))
            .Row("benchmark (all clients)", "live managed heap (after a full GC)", Mib(ownBefore.LiveHeapBytes), Mib(ownAfter.LiveHeapBytes),
                Bytes(PerConnection(ownBefore.LiveHeapBytes, ownAfter.LiveHeapBytes)));
        _sections.Add(
            $"## Memory per connection\n\n{table}\n" +
            "\"Before\" is after the joins, so the users' places in line are in both readings; the difference is what the " +
            "connections add: Kestrel's connection and WebSocket, SignalR's connection and group membership, the fan-out's " +
            "follower entry. The gateway runs with server GC, which keeps memory it has committed: VmRSS is what the " +
            "machine pays, the live heap what the connections hold.");

        double? PerConnection(long? before, long? after) => before is { } b && after is { } a ? (double)(a - b) / n : null;
    }

    public void Idle(CpuUse idle) => _idle = idle;

    /// <summary>The per-broadcast and per-move figures, and the checks on them; returns the failed checks.</summary>
    public IReadOnlyList<string> Deliveries(IReadOnlyList<Round> rounds, Broadcasts broadcasts, Follower[] followers, long cursorBeforeMoves,
        CpuUse? movesCpu, EventStats stats)
    {
        var failures = new List<string>();
        var (allLatencies, lastPerRound) = BroadcastFigures(rounds, broadcasts, followers.Length, failures);
        var moveOffsets = MoveFigures(followers, cursorBeforeMoves, movesCpu, stats, failures);
        failures.AddRange(Checks(broadcasts, followers, stats));
        DrawChart(allLatencies, lastPerRound, moveOffsets);
        return failures;
    }

    /// <summary>Broadcasts started by an admin PUT: from just before the PUT to each client's receipt.</summary>
    private (List<double> All, List<double> LastPerRound) BroadcastFigures(IReadOnlyList<Round> rounds, Broadcasts broadcasts, int n, List<string> failures)
    {
        var roundTable = new Table("#", "kind", "PUT ms", "first ms", "p50 ms", "p99 ms", "last ms", "missing", "gateway CPU ms", "clients CPU ms");
        var lastPerRound = new List<double>();
        var allLatencies = new List<double>();
        var firstPerRound = new List<double>();
        double gatewayCpu = 0, clientCpu = 0, gatewayKernel = 0, clientKernel = 0, measuredSeconds = 0;
        var missing = 0;
        foreach (var round in rounds)
        {
            var latencies = new List<double>(n);
            for (var client = 0; client < n; client++)
            {
                if (broadcasts.ReceiptOf(round.Index, client) is var received and not 0)
                {
                    latencies.Add(Stopwatch.GetElapsedTime(round.Started, received).TotalMilliseconds);
                }
            }

            latencies.Sort();
            var lost = n - latencies.Count;
            missing += lost;
            var gatewayMs = round.Cpu.Gateway * round.Cpu.Seconds * 1000;
            var clientMs = round.Cpu.Client * round.Cpu.Seconds * 1000;
            roundTable.Row(round.Index + 1, round.Complete ? round.Kind : $"{round.Kind} (not all within {options.RoundTimeoutSeconds} s)", Ms(round.PutMilliseconds), Ms(latencies.FirstOrDefault()), Ms(Chart.Percentile(latencies, 50)),
                Ms(Chart.Percentile(latencies, 99)), Ms(latencies.LastOrDefault()), lost, Ms(gatewayMs), Ms(clientMs));
            if (round.Kind == "rate change")
            {
                lastPerRound.Add(latencies.LastOrDefault(double.PositiveInfinity));
                firstPerRound.Add(latencies.FirstOrDefault(double.PositiveInfinity));
                allLatencies.AddRange(latencies);
                gatewayCpu += gatewayMs;
                clientCpu += clientMs;
                gatewayKernel += round.Cpu.GatewayKernel * round.Cpu.Seconds * 1000;
                clientKernel += round.Cpu.ClientKernel * round.Cpu.Seconds * 1000;
                measuredSeconds += round.Cpu.Seconds;
            }
        }

        if (missing > 0)
        {
            failures.Add($"{missing:N0} broadcast deliveries missing");
        }

        lastPerRound.Sort();
        allLatencies.Sort();
        firstPerRound.Sort();
        var measured = lastPerRound.Count;
        _targetFigure = Chart.Percentile(lastPerRound, 99);
        var summary = new Table("over the measured broadcasts", "p50 ms", "p99 ms", "max ms", "samples")
            .Row("admin PUT → last client", Ms(Chart.Percentile(lastPerRound, 50)), Ms(_targetFigure.Value), Ms(lastPerRound.LastOrDefault()), measured)
            .Row("admin PUT → each client", Ms(Chart.Percentile(allLatencies, 50)), Ms(Chart.Percentile(allLatencies, 99)), Ms(allLatencies.LastOrDefault()), allLatencies.Count)
            .Row("admin PUT → first client", Ms(Chart.Percentile(firstPerRound, 50)), Ms(Chart.Percentile(firstPerRound, 99)), Ms(firstPerRound.LastOrDefault()), measured);
        var background = _idle is { } idle ? (idle.Gateway, idle.Client) : (0.0, 0.0);
        var gatewayPerBroadcast = measured == 0 ? 0 : (gatewayCpu - background.Item1 * measuredSeconds * 1000) / measured;
        var clientPerBroadcast = measured == 0 ? 0 : (clientCpu - background.Item2 * measuredSeconds * 1000) / measured;
        _sections.Add(
            $"## Broadcasts: an admin PUT changes the admission rate, every follower hears it\n\n" +
            "The queue is paused, so each PUT is exactly one cursor message to every follower and nothing else moves. Times run " +
            "from just before the PUT is sent to the client's receipt, on one Stopwatch in this process: admin API, queue grain, " +
            "grain observer, the gateway's group send, the WebSocket, the client's parsing. \"Missing\" counts clients that never " +
            $"received it. CPU: /proc ticks (10 ms) over each broadcast, from the PUT until the last client had it.\n\n{roundTable}\n{summary}\n" +
            (_idle is { } i
                ? $"Background with {n:N0} idle connections (keep-alive pings, timers), measured for {i.Seconds:F0} s before the broadcasts: {i.Describe()}.\n"
                : "") +
            string.Create(CultureInfo.InvariantCulture,
                $"CPU per broadcast to {n:N0} connections, background subtracted: gateway {gatewayPerBroadcast:F0} ms ({gatewayPerBroadcast * 1000 / n:F1} µs per connection; " +
                $"{Share(gatewayKernel, gatewayCpu)} of its time during broadcasts in the kernel), benchmark clients {clientPerBroadcast:F0} ms " +
                $"({clientPerBroadcast * 1000 / n:F1} µs per connection; {Share(clientKernel, clientCpu)} in the kernel); the machine has {Environment.ProcessorCount} cores, " +
                $"so a broadcast that needs {gatewayPerBroadcast + clientPerBroadcast:F0} ms of CPU cannot reach everyone in less than about " +
                $"{(gatewayPerBroadcast + clientPerBroadcast) / Environment.ProcessorCount:F0} ms."));
        return (allLatencies, lastPerRound);
    }

    /// <summary>Real cursor moves (admission ticks): the spread from the first to the last client receiving each.</summary>
    private List<double> MoveFigures(Follower[] followers, long cursorBeforeMoves, CpuUse? movesCpu, EventStats stats, List<string> failures)
    {
        var offsets = new List<double>();
        if (options.Moves == 0)
        {
            return offsets;
        }

        var n = followers.Length;
        var byCursor = new SortedDictionary<long, List<long>>();
        var duplicates = 0;
        foreach (var follower in followers)
        {
            var seen = new HashSet<long>();
            foreach (var receipt in follower.Log())
            {
                if (receipt.AdmissionsPerMinute != options.MoveRate || receipt.Paused || receipt.ServingCursor <= cursorBeforeMoves)
                {
                    continue;
                }

                // Each client's first receipt of a cursor value; a second one is counted, not timed.
                if (!seen.Add(receipt.ServingCursor))
                {
                    duplicates++;
                    continue;
                }

                if (!byCursor.TryGetValue(receipt.ServingCursor, out var list))
                {
                    byCursor[receipt.ServingCursor] = list = [];
                }

                list.Add(receipt.Timestamp);
            }
        }

        var table = new Table("cursor", "clients", "first → last ms", "p50 after first ms", "p99 after first ms", "missing");
        var spreads = new List<double>();
        var missing = 0;
        foreach (var (cursor, timestamps) in byCursor)
        {
            timestamps.Sort();
            var first = timestamps[0];
            var after = timestamps.Select(t => Stopwatch.GetElapsedTime(first, t).TotalMilliseconds).ToList();
            offsets.AddRange(after);
            spreads.Add(after[^1]);
            missing += n - timestamps.Count;
            table.Row(cursor, timestamps.Count, Ms(after[^1]), Ms(Chart.Percentile(after, 50)), Ms(Chart.Percentile(after, 99)), n - timestamps.Count);
        }

        if (byCursor.Count < options.Moves)
        {
            failures.Add($"only {byCursor.Count} cursor moves were heard, {options.Moves} expected");
        }

        if (missing > 0)
        {
            failures.Add($"{missing:N0} cursor-move deliveries missing");
        }

        if (duplicates > 0)
        {
            failures.Add($"{duplicates:N0} cursor moves received twice by the same client");
        }

        spreads.Sort();
        offsets.Sort();
        _sections.Add(
            $"## Cursor moves: the queue admits {options.MoveRate} a minute, every tick moves the cursor\n\n" +
            $"{options.UsersAhead:N0} users joined ahead of the followers, so the moves admit none of them. A tick starts in the queue grain, " +
            "which this process cannot see, so this is the spread from the first client to the last receiving the same cursor value " +
            $"(the time before the first client is the \"first client\" figure above).\n\n{table}\n" +
            new Table("over the moves", "p50 ms", "p99 ms", "max ms", "samples")
                .Row("first → last client", Ms(Chart.Percentile(spreads, 50)), Ms(Chart.Percentile(spreads, 99)), Ms(spreads.LastOrDefault()), spreads.Count)
                .Row("first → each client", Ms(Chart.Percentile(offsets, 50)), Ms(Chart.Percentile(offsets, 99)), Ms(offsets.LastOrDefault()), offsets.Count) +
            $"\nServing cursor at the end: {stats.ServingCursor:N0} (first follower's ticket: {followers.Min(f => f.TicketNumber):N0})." +
            (movesCpu is { } cpu ? $" CPU while the cursor moved: {cpu.Describe()}." : ""));
        return offsets;
    }

    private static IEnumerable<string> Checks(Broadcasts broadcasts, Follower[] followers, EventStats stats)
    {
        var closed = followers.Count(f => f.Closed);
        if (closed > 0)
        {
            yield return $"{closed:N0} connections closed during the run";
        }

        if (broadcasts.Duplicates > 0)
        {
            yield return $"{broadcasts.Duplicates:N0} broadcasts received twice by the same client (the gateway sent them more than once)";
        }

        // The hub's promise: a browser never sees the cursor move backwards.
        var backwards = followers.Count(f => f.Log() is var log && log.Zip(log.Skip(1)).Any(p => p.Second.ServingCursor < p.First.ServingCursor));
        if (backwards > 0)
        {
            yield return $"{backwards:N0} clients saw the cursor move backwards";
        }

        var admittedFollowers = followers.Count(f => f.TicketNumber <= stats.ServingCursor);
        var admittedMessages = followers.Sum(f => f.Admitted);
        if (admittedMessages != admittedFollowers)
        {
            yield return $"{admittedMessages} admitted messages for {admittedFollowers} admitted followers";
        }
    }

    private void DrawChart(List<double> allLatencies, List<double> lastPerRound, List<double> moveOffsets)
    {
        if (options.Chart is null || allLatencies.Count == 0)
        {
            return;
        }

        var n = options.Connections;
        List<(string, IReadOnlyList<double>)> series =
        [
            ($"admin PUT → each client ({allLatencies.Count:N0})", allLatencies),
            ($"admin PUT → last client ({lastPerRound.Count} broadcasts)", lastPerRound),
        ];
        if (moveOffsets.Count > 0)
        {
            series.Add(($"tick: first → each client ({moveOffsets.Count:N0})", moveOffsets));
        }

        var path = Chart.Percentiles(Chart.DocsPath(options.Chart), $"Cursor message to {n:N0} SignalR connections, 2 cores shared with the clients",
            "milliseconds", series);
        _sections.Add($"Chart: {path}");
    }

    public void Print(int gatewayWarnings, int gatewayErrors, IReadOnlyList<string> firstProblems, IReadOnlyList<string> failures)
    {
        Console.WriteLine();
        foreach (var section in _sections)
        {
            Console.WriteLine(section);
            Console.WriteLine();
        }

        var n = options.Connections;
        var figure = _targetFigure ?? double.PositiveInfinity;
        Console.WriteLine("## Targets");
        Console.WriteLine();
        Console.WriteLine(new Table("target", "measured", "result")
            .Row($"cursor message delivered to all {n:N0} live connections: p99 of the time to the last client < {TargetMilliseconds:N0} ms",
                $"{Ms(figure)} ms ({options.Rounds} broadcasts; clients on the same {Environment.ProcessorCount} cores)",
                figure < TargetMilliseconds ? "PASS" : "MISS")
            .Row("gateway memory per connection (no target: recorded)", Bytes(_gatewayBytesPerConnection) + " VmRSS", "—"));

        if (_idle is { Other: > 0.25 } busy)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"WARNING: other processes kept {busy.Other:F2} of the {Environment.ProcessorCount} cores busy while the connections idled: the latency figures are not those of a quiet machine."));
        }

        Console.WriteLine($"Gateway log: {gatewayWarnings} warnings, {gatewayErrors} errors{(firstProblems.Count > 0 ? "; first:" : ".")}");
        foreach (var line in firstProblems)
        {
            Console.WriteLine($"  {line}");
        }

        Console.WriteLine();
        Console.WriteLine(failures.Count == 0
            ? "Checks: PASS (every client received every broadcast and every cursor move, once, in order; no connection closed)."
            : $"Checks: FAIL: {string.Join("; ", failures)}.");
    }

    private static string Share(double part, double whole) =>
        whole > 0 ? string.Create(CultureInfo.InvariantCulture, $"{part / whole:P0}") : "n/a";

    private static string Ms(double value) =>
        double.IsFinite(value) ? value.ToString(value >= 100 ? "N0" : "F1", CultureInfo.InvariantCulture) : "n/a";

    private static string Mib(long? bytes) =>
        bytes is { } b ? string.Create(CultureInfo.InvariantCulture, $"{b / 1024.0 / 1024.0:F1} MiB") : "n/a";

    private static string Bytes(double? bytes) =>
        bytes is { } b ? string.Create(CultureInfo.InvariantCulture, $"{b:N0} B") : "n/a";
}
