using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace TicketQueue.FanoutBenchmark;

/// <summary>One broadcast the benchmark started with an admin PUT.</summary>
public sealed record Round(int Index, string Kind, long Started, double PutMilliseconds, CpuUse Cpu, bool Complete);

/// <summary>The phases of a run, in order: gateway, event, joins, connections, memory, broadcasts, cursor moves, report.</summary>
public static class FanoutRun
{
    // Sockets besides the connections: the HTTP pool, the gateway's silo and its own files, with room to spare.
    private const int SocketsBesidesConnections = 1_000;

    public static async Task<int> Execute(FanoutOptions options, string[] args, CancellationToken cancellationToken)
    {
        var repository = RepositoryRoot();
        PrintHeader(options, args, repository);
        if (ProcessReadings.OpenFilesLimit() is { } limit && limit < options.Connections + options.JoinConcurrency + SocketsBesidesConnections)
        {
            Console.Error.WriteLine($"FAILED: this process may open {limit} files (ulimit -n) and {options.Connections} connections need about " +
                $"{options.Connections + options.JoinConcurrency + SocketsBesidesConnections}; raise the limit (bench/fanout.sh raises the soft limit to the hard one).");
            return 2;
        }

        if (options.Build)
        {
            Console.WriteLine("Building the gateway (dotnet build src/Gateway -c Release) ...");
            await GatewayProcess.Build(repository, cancellationToken);
        }

        await using var gateway = await GatewayProcess.Start(repository, cancellationToken);
        Console.WriteLine($"Gateway: pid {gateway.Pid} at {gateway.Address}, {GatewayGcMode(repository)}; its log: {gateway.LogPath}");
        var tokens = new AccessTokens(gateway.AccessKey);
        using var api = new GatewayApi(gateway.Address, tokens.For(Guid.NewGuid(), admin: true), options.JoinConcurrency);

        // Paused from the start: while paused no tick moves the cursor, so each admin PUT is exactly one broadcast.
        var eventId = await api.CreateEvent(options.MoveRate, cancellationToken);
        await api.UpdateQueue(eventId, admissionsPerMinute: null, paused: true, cancellationToken);
        Console.WriteLine($"Event {eventId}: created, queue paused.");

        var report = new FanoutReport(options);
        var failures = new List<string>();

        // Users ahead of the followers take the tickets the cursor moves will admit, so no follower is admitted.
        await JoinAll(api, eventId, [.. Enumerable.Range(0, options.UsersAhead).Select(_ => tokens.For(Guid.NewGuid()))],
            options.JoinConcurrency, cancellationToken);
        var accessTokens = Enumerable.Range(0, options.Connections).Select(_ => tokens.For(Guid.NewGuid())).ToArray();
        var joinClock = Stopwatch.StartNew();
        var places = await JoinAll(api, eventId, accessTokens, options.JoinConcurrency, cancellationToken);
        report.Joined(options.Connections, joinClock.Elapsed);
        var numbers = places.Select(p => p.TicketNumber ?? 0).ToHashSet();
        if (numbers.Count != options.Connections || places.Any(p => p.Status != "waiting" || p.TicketNumber <= options.UsersAhead))
        {
            failures.Add("joins: ticket numbers not distinct, not waiting, or not behind the users ahead");
        }

        Console.WriteLine($"Joined: {options.UsersAhead:N0} users ahead, then {options.Connections:N0} followers in {joinClock.Elapsed.TotalSeconds:F2} s.");

        var gatewayBefore = ProcessReadings.GatewayMemory(gateway.Pid);
        var ownBefore = ProcessReadings.OwnMemory();

        var rates = new List<int>();
        rates.AddRange(Enumerable.Range(0, options.WarmupRounds + options.Rounds).Select(i => FanoutOptions.RoundRateBase + i));
        if (options.Moves > 0)
        {
            rates.Add(options.MoveRate);
            rates.Add(options.MoveRate + 1);
        }

        var broadcasts = new Broadcasts(options.Connections, rates, options.MoveRate);
        var followers = new Follower[options.Connections];
        try
        {
            var connecting = await ConnectAll(gateway, eventId, accessTokens, places, broadcasts, followers, options, cancellationToken);
            report.Connected(connecting);

            // Let connection set-up work (and the garbage it left) settle before reading memory.
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            report.Memory(gatewayBefore, ProcessReadings.GatewayMemory(gateway.Pid), ownBefore, ProcessReadings.OwnMemory());

            if (options.HoldSeconds > 0)
            {
                Console.WriteLine($"Holding for {options.HoldSeconds} s: attach to the gateway, pid {gateway.Pid} ...");
                await Task.Delay(TimeSpan.FromSeconds(options.HoldSeconds), cancellationToken);
            }

            var idleStart = ProcessReadings.Cpu(gateway.Pid);
            await Task.Delay(TimeSpan.FromSeconds(options.IdleSeconds), cancellationToken);
            report.Idle(ProcessReadings.Between(idleStart, ProcessReadings.Cpu(gateway.Pid)));

            var rounds = new List<Round>();
            Console.WriteLine($"Broadcasting: {options.WarmupRounds} warm-up and {options.Rounds} measured rate changes ...");
            for (var i = 0; i < options.WarmupRounds + options.Rounds; i++)
            {
                var kind = i < options.WarmupRounds ? "warm-up" : "rate change";
                rounds.Add(await Broadcast(api, eventId, broadcasts, gateway.Pid, i, kind, rates[i], paused: null, options, cancellationToken));
                await Task.Delay(options.GapMilliseconds, cancellationToken);
            }

            long cursorBeforeMoves = 0;
            CpuUse? movesCpu = null;
            if (options.Moves > 0)
            {
                Console.WriteLine($"Moving the cursor: resumed at {options.MoveRate} admissions a minute until {options.Moves} moves were heard ...");
                var movesStart = ProcessReadings.Cpu(gateway.Pid);
                cursorBeforeMoves = (await api.Stats(eventId, cancellationToken)).ServingCursor;
                var resume = rates.Count - 2;
                rounds.Add(await Broadcast(api, eventId, broadcasts, gateway.Pid, resume, "resume", options.MoveRate, paused: false, options, cancellationToken));
                var deadline = Stopwatch.StartNew();
                var longest = TimeSpan.FromSeconds(options.Moves * Math.Max(1, 60.0 / options.MoveRate) * 2 + 10);
                while (followers[0].Log().Where(r => r.AdmissionsPerMinute == options.MoveRate && !r.Paused && r.ServingCursor > cursorBeforeMoves)
                    .Select(r => r.ServingCursor).Distinct().Count() < options.Moves && deadline.Elapsed < longest)
                {
                    await Task.Delay(50, cancellationToken);
                }

                // The pause is one more broadcast: once every client has it, every client has every move before it.
                rounds.Add(await Broadcast(api, eventId, broadcasts, gateway.Pid, resume + 1, "pause", options.MoveRate + 1, paused: true, options, cancellationToken));
                movesCpu = ProcessReadings.Between(movesStart, ProcessReadings.Cpu(gateway.Pid));
            }

            // Late deliveries of a round that timed out still count as delivered if they arrive by now.
            await Task.WhenAll(rates.Select((_, i) => broadcasts.Complete(i)))
                .WaitAsync(TimeSpan.FromSeconds(options.RoundTimeoutSeconds), cancellationToken)
                .ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

            var stats = await api.Stats(eventId, cancellationToken);
            failures.AddRange(report.Deliveries(rounds, broadcasts, followers, cursorBeforeMoves, movesCpu, stats));
        }
        finally
        {
            await CloseAll(followers);
        }

        var (warnings, errors, first) = gateway.Problems;
        report.Print(warnings, errors, first, failures);
        Console.WriteLine($"Load average at the end: {File.ReadAllText("/proc/loadavg").Trim()}");
        return failures.Count == 0 ? 0 : 1;
    }

    private static async Task<JoinResponse[]> JoinAll(GatewayApi api, string eventId, string[] accessTokens, int concurrency, CancellationToken cancellationToken)
    {
        var places = new JoinResponse[accessTokens.Length];
        await Parallel.ForEachAsync(Enumerable.Range(0, accessTokens.Length),
            new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken },
            async (i, token) => places[i] = await api.Join(eventId, accessTokens[i], token));
        return places;
    }

    /// <summary>Opens and follows every connection, <c>ConnectConcurrency</c> at a time; returns how long each took.</summary>
    private static async Task<Connecting> ConnectAll(GatewayProcess gateway, string eventId, string[] accessTokens, JoinResponse[] places,
        Broadcasts broadcasts, Follower[] followers, FanoutOptions options, CancellationToken cancellationToken)
    {
        var milliseconds = new double[followers.Length];
        var retries = 0;
        var done = 0;
        var cpuStart = ProcessReadings.Cpu(gateway.Pid);
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"Connecting {followers.Length:N0} followers, {options.ConnectConcurrency} at a time ...");
        await Parallel.ForEachAsync(Enumerable.Range(0, followers.Length),
            new ParallelOptions { MaxDegreeOfParallelism = options.ConnectConcurrency, CancellationToken = cancellationToken },
            async (i, token) =>
            {
                var started = Stopwatch.GetTimestamp();
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        followers[i] = await Follower.Connect(gateway.Address, accessTokens[i], eventId, places[i].Ticket, i, broadcasts, token);
                        break;
                    }
                    catch (Exception e) when (attempt < 3 && e is not OperationCanceledException)
                    {
                        // Counted and reported: a retry is a finding, not something to hide.
                        Interlocked.Increment(ref retries);
                        Console.WriteLine($"  connection {i} failed ({e.GetBaseException().Message}); retrying");
                        await Task.Delay(500 * attempt, token);
                    }
                }

                milliseconds[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                var count = Interlocked.Increment(ref done);
                if (count % Math.Max(1, followers.Length / 5) == 0)
                {
                    Console.WriteLine($"  {count:N0} following after {clock.Elapsed.TotalSeconds:F1} s");
                }
            });
        return new Connecting(clock.Elapsed, milliseconds, retries, ProcessReadings.Between(cpuStart, ProcessReadings.Cpu(gateway.Pid)));
    }

    /// <summary>One admin PUT, timed from just before it is sent; waits until every client has heard it.</summary>
    private static async Task<Round> Broadcast(GatewayApi api, string eventId, Broadcasts broadcasts, int gatewayPid, int index, string kind, int rate,
        bool? paused, FanoutOptions options, CancellationToken cancellationToken)
    {
        var cpuStart = ProcessReadings.Cpu(gatewayPid);
        var started = Stopwatch.GetTimestamp();
        await api.UpdateQueue(eventId, rate, paused, cancellationToken);
        var put = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var complete = true;
        try
        {
            await broadcasts.Complete(index).WaitAsync(TimeSpan.FromSeconds(options.RoundTimeoutSeconds), cancellationToken);
        }
        catch (TimeoutException)
        {
            complete = false;
            Console.WriteLine($"  broadcast {index} ({kind}) reached {broadcasts.Received(index):N0} of {options.Connections:N0} clients in {options.RoundTimeoutSeconds} s");
        }

        return new Round(index, kind, started, put, ProcessReadings.Between(cpuStart, ProcessReadings.Cpu(gatewayPid)), complete);
    }

    private static async Task CloseAll(Follower[] followers)
    {
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(followers.Where(f => f is not null), new ParallelOptions { MaxDegreeOfParallelism = 256 },
            async (follower, _) => await follower.DisposeAsync());
        Console.WriteLine($"Closed {followers.Count(f => f is not null):N0} connections in {clock.Elapsed.TotalSeconds:F1} s.");
    }

    private static void PrintHeader(FanoutOptions options, string[] args, string repository)
    {
        Console.WriteLine("# Live position fan-out");
        Console.WriteLine();
        Console.WriteLine($"Command: dotnet run -c Release --project bench/FanoutBenchmark -- {string.Join(' ', args)}".TrimEnd());
        Console.WriteLine($"Options: {options.Connections:N0} connections, {options.Rounds} measured broadcasts after {options.WarmupRounds} warm-up, " +
            $"{options.Moves} cursor moves at {options.MoveRate}/min behind {options.UsersAhead:N0} users, {options.ConnectConcurrency} connecting and " +
            $"{options.JoinConcurrency} joining at a time, {options.GapMilliseconds} ms between broadcasts, {options.IdleSeconds} s idle, " +
            $"chart: {(options.Chart is null ? "none" : $"docs/performance/{options.Chart}.png")}");
        Console.WriteLine($"Machine: {Environment.ProcessorCount} cores ({CpuModel()}), {MemoryTotal()}, {OsName()}, {RuntimeInformation.FrameworkDescription}");
        Console.WriteLine($"Load average at the start: {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine($"Repository: {repository}");
        Console.WriteLine($"Clients: all {options.Connections:N0} SignalR clients run in this one process, on the same {Environment.ProcessorCount} cores as the gateway " +
            $"({(GCSettings.IsServerGC ? "server" : "workstation")} GC here). Every figure below includes the clients' own work.");
        Console.WriteLine();
    }

    private static string GatewayGcMode(string repository)
    {
        var config = Path.Combine(GatewayProcess.GatewayFolder(repository), "TicketQueue.Gateway.runtimeconfig.json");
        using var json = JsonDocument.Parse(File.ReadAllText(config));
        var server = json.RootElement.GetProperty("runtimeOptions").TryGetProperty("configProperties", out var properties)
            && properties.TryGetProperty("System.GC.Server", out var value) && value.GetBoolean();
        return server ? "server GC" : "workstation GC";
    }

    private static string CpuModel() =>
        File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";

    private static string MemoryTotal()
    {
        var line = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var kib = long.Parse(line["MemTotal:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        return $"{kib / 1024.0 / 1024.0:F1} GiB";
    }

    private static string OsName()
    {
        var pretty = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"')
            : null;
        return $"{pretty ?? RuntimeInformation.OSDescription} (kernel {Environment.OSVersion.Version})";
    }

    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "TicketQueue.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (TicketQueue.sln) is not above " + AppContext.BaseDirectory);
    }
}

/// <summary>How opening and following the connections went.</summary>
public sealed record Connecting(TimeSpan Elapsed, double[] Milliseconds, int Retries, CpuUse Cpu);
