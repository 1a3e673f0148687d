using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;
using TicketQueue.Bench;
using TicketQueue.Charts;
using TicketQueue.HttpBenchmark;

// Authenticated joins through the gateway over real HTTP, against two yardsticks measured in the same run
// with the same wrk settings: the same gateway's trivial endpoint (what HTTP alone costs on this machine)
// and the common hand-rolled design, a Redis sorted set (bench/RedisQueueBaseline). Every request of a join
// scenario carries another user's access token, so the joins are first joins, not one user's repeats.

if (!CommandLine.TryParse(args, HttpOptions.Usage, HttpOptions.Parse, out var options, out var exitCode))
{
    return exitCode;
}

using var children = new ChildProcesses();
try
{
    return await HttpJoinBenchmark.Run(options, args, children, children.Stopping);
}
catch (OperationCanceledException) when (children.Stopping.IsCancellationRequested)
{
    Console.Error.WriteLine("Interrupted; the servers were stopped.");
    return 130;
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine($"Setup failed: {e.Message}");
    return 2;
}
catch (Exception e)
{
    // Caught, not left unhandled: an unhandled exception ends the process without running the finally
    // blocks and disposals that stop the servers.
    Console.Error.WriteLine($"Failed: {e}");
    return 2;
}

/// <summary>One measured wrk run, the warm-up rounds before it, and where the CPU went while it ran.</summary>
internal sealed record Scenario(string Name, string Request, WrkResult Result, IReadOnlyList<WrkResult> Warmups, CpuUse Cpu);

/// <summary>A correctness check: its outcome decides the exit code.</summary>
internal sealed record Check(string What, bool Passed, string Detail);

internal static class HttpJoinBenchmark
{
    public static async Task<int> Run(HttpOptions options, string[] args, ChildProcesses children, CancellationToken cancellationToken)
    {
        var repository = Servers.RepositoryRoot();
        Console.WriteLine("TicketQueue HTTP join benchmark");
        Console.WriteLine($"  command            dotnet run -c Release --project bench/HttpBenchmark{(args.Length > 0 ? " -- " + string.Join(' ', args) : "")}");
        Console.WriteLine($"  machine            {Machine.Describe()}; load average {Machine.LoadAverage()} at start");
        Console.WriteLine("  servers            gateway (embedded silo) and baseline: Release builds, Production environment, server GC, " +
            "on loopback; each measured while the other is stopped");
        var wrkVersion = await Wrk.Ensure(cancellationToken);
        var openFiles = FileLimit.Raise((ulong)options.Connections * 2 + 4_096);
        Console.WriteLine($"  load generator     {wrkVersion}, {options.WrkSettings}; ulimit -n {openFiles}");
        Console.WriteLine($"  users              {options.Users:N0} distinct for each measured join run, {options.WarmupUsers:N0} others for the warm-ups");
        Console.WriteLine($"  redis-server       {RedisVersion()}, {(options.RedisAof ? "AOF, appendfsync everysec" : "no persistence (no RDB, no AOF)")}");

        if (options.Build)
        {
            var build = Stopwatch.StartNew();
            await Servers.Build(repository, "src/Gateway", cancellationToken);
            await Servers.Build(repository, "bench/RedisQueueBaseline", cancellationToken);
            Console.WriteLine($"  built              src/Gateway and bench/RedisQueueBaseline, Release ({build.Elapsed.TotalSeconds:F0} s)");
        }

        var work = Directory.CreateTempSubdirectory("ticketqueue-http-");
        try
        {
            return await Measure(options, repository, work.FullName, children, cancellationToken);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static async Task<int> Measure(HttpOptions options, string repository, string work, ChildProcesses children, CancellationToken cancellationToken)
    {
        var tokens = new AccessTokens(AccessTokens.NewKey());
        var tokenFile = Path.Combine(work, "tokens.txt");
        var minting = Stopwatch.StartNew();
        var recordLength = tokens.WriteFile(tokenFile, options.WarmupUsers + options.Users);
        Console.WriteLine($"  access tokens      {options.WarmupUsers + options.Users:N0} minted (HS256, {recordLength - 1} characters each) " +
            $"in {minting.Elapsed.TotalSeconds:F1} s, to {tokenFile}");
        // A user outside the token file, who joins once at each server before its runs.
        var smokeToken = tokens.User(options.WarmupUsers + options.Users);
        var checks = new List<Check>();
        var scenarios = new List<Scenario>();

        async Task<Scenario> RunScenario(string name, string baseUrl, string method, string path, bool withTokens, CpuMeter meter)
        {
            Console.WriteLine();
            Console.WriteLine($"## {name}: {method} {path}{(withTokens ? " with a different user's token each request" : ", no token")}");
            var warmups = new List<WrkResult>();
            for (var round = 0; options.WarmupSeconds > 0 && round < options.WarmupRounds; round++)
            {
                var (warmup, _) = await Wrk.Run(baseUrl, method, path, tokenFile, recordLength,
                    withTokens ? options.WarmupUsersOf(round) : TokenRange.None, options, options.WarmupSeconds, cancellationToken);
                warmups.Add(warmup);
                Console.WriteLine($"warm-up {round + 1}: {warmup.RequestsPerSecond:N0} requests/s over {options.WarmupSeconds} s");
                // A path the JIT is still optimising shows as a rising rate; once it stops rising, measure.
                if (round + 1 >= HttpOptions.MinimumWarmupRounds && warmup.RequestsPerSecond < 1.05 * warmups[^2].RequestsPerSecond)
                {
                    break;
                }
            }

            Console.WriteLine($"load average before: {Machine.LoadAverage()}");
            var before = meter.Take();
            var (result, output) = await Wrk.Run(baseUrl, method, path, tokenFile, recordLength, withTokens ? options.MeasuredUsers : TokenRange.None,
                options, options.DurationSeconds, cancellationToken);
            var cpu = meter.Between(before, meter.Take());
            Console.WriteLine(string.Join('\n', output.Split('\n').Select(l => "    " + l)));
            Console.WriteLine($"cores busy on average: {cpu}");
            var scenario = new Scenario(name, $"{method} {path}", result, warmups, cpu);
            scenarios.Add(scenario);
            return scenario;
        }

        // (a) and (b): the gateway's ceiling and its join, then (optionally) what token validation alone costs.
        string eventId;
        Scenario trivial, join;
        Scenario? tokenCheck = null;
        using (var gateway = await Servers.StartGateway(children, repository, tokens, cancellationToken))
        {
            eventId = await gateway.CreateEvent(options.AdmissionsPerMinute, cancellationToken);
            Console.WriteLine($"  gateway            {gateway.BaseUrl} (pid {gateway.Process.Pid}), event {eventId}, " +
                $"{options.AdmissionsPerMinute:N0} admissions a minute, up to 1,000,000 shoppers at once");
            var ticketNumber = await SmokeJoin(gateway.BaseUrl, eventId, smokeToken, "ticketNumber", cancellationToken);
            checks.Add(new Check("gateway smoke join gets ticket 1", ticketNumber == 1, $"ticket number {ticketNumber}"));

            var meter = new CpuMeter([("gateway", gateway.Process.Pid)]);
            trivial = await RunScenario("HTTP ceiling", gateway.BaseUrl, "GET", "/health/live", withTokens: false, meter);
            join = await RunScenario("Gateway join", gateway.BaseUrl, "POST", $"/api/events/{eventId}/queue", withTokens: true, meter);
            var issued = await gateway.SettledIssued(eventId, cancellationToken);
            checks.AddRange(JoinChecks("gateway", join, issued, "tickets issued (admin stats)"));
            if (options.AuthProbe)
            {
                tokenCheck = await RunScenario("Token check only", gateway.BaseUrl, "GET", "/api/auth/me", withTokens: true, meter);
            }
        }

        // (c): the baseline, alone on the machine with its redis-server (the gateway is stopped).
        var (redis, redisPort) = await Servers.StartRedis(children, work, options.RedisAof, cancellationToken);
        Scenario baseline;
        using (redis)
        {
            var (baselineProcess, baselineUrl) = await Servers.StartBaseline(children, repository, tokens, redisPort, cancellationToken);
            using (baselineProcess)
            {
                Console.WriteLine();
                Console.WriteLine($"  baseline           {baselineUrl} (pid {baselineProcess.Pid}), redis-server 127.0.0.1:{redisPort} (pid {redis.Pid})");
                var position = await SmokeJoin(baselineUrl, eventId, smokeToken, "position", cancellationToken);
                checks.Add(new Check("baseline smoke join is first in line", position == 1, $"position {position}"));
                var meter = new CpuMeter([("baseline", baselineProcess.Pid), ("redis", redis.Pid)]);
                baseline = await RunScenario("Redis baseline join", baselineUrl, "POST", $"/api/events/{eventId}/queue", withTokens: true, meter);
                using var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{redisPort}");
                var members = await connection.GetDatabase().SortedSetLengthAsync($"queue:{eventId}");
                checks.AddRange(JoinChecks("baseline", baseline, members, "members of the sorted set (ZCARD)"));
            }
        }

        return Report(options, scenarios, trivial, join, tokenCheck, baseline, checks);
    }

    /// <summary>
    /// No failed request, and exactly one place per user sent: the warm-up rounds' users, the measured run's
    /// and the smoke user. wrk's last requests are still in flight when it stops; the server answers them anyway,
    /// so users sent, not users answered, is what must match.
    /// </summary>
    private static IEnumerable<Check> JoinChecks(string server, Scenario scenario, long places, string placesName)
    {
        var runs = scenario.Warmups.Select((w, i) => ($"warm-up {i + 1}", w)).Append(("measured", scenario.Result));
        foreach (var (run, result) in runs)
        {
            yield return new Check($"{server} {run} joins: no error response", result.StatusErrors == 0, $"{result.StatusErrors:N0} non-2xx/3xx");
            yield return new Check($"{server} {run} joins: no socket error", result.SocketErrors == 0,
                $"{result.ConnectErrors} connect, {result.ReadErrors} read, {result.WriteErrors} write");
            yield return new Check($"{server} {run} joins: no timeout", result.Timeouts == 0, $"{result.Timeouts:N0} requests unanswered within wrk's timeout");
        }

        // Each warm-up round and the measured run have users of their own: their distinct users add up.
        var warmupUsers = scenario.Warmups.Sum(w => w.DistinctUsers);
        var expected = warmupUsers + scenario.Result.DistinctUsers + 1;
        yield return new Check($"{server}: one place per user sent", places == expected,
            $"{placesName} {places:N0}; users sent {expected:N0} (warm-up {warmupUsers:N0} + measured " +
            $"{scenario.Result.DistinctUsers:N0} + 1 smoke)");
    }

    /// <summary>One join by a user of its own before the runs: the tokens are accepted and the answer has the expected shape.</summary>
    private static async Task<long> SmokeJoin(string baseUrl, string eventId, string token, string field, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await http.PostAsync($"/api/events/{eventId}/queue", content: null, cancellationToken);
        await GatewayServer.Require(response, $"smoke join at {baseUrl}");
        var body = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
        return body.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.Number
            ? value.GetInt64()
            : throw new InvalidOperationException($"The smoke join at {baseUrl} answered without '{field}': {body}");
    }

    private static int Report(HttpOptions options, List<Scenario> scenarios, Scenario trivial, Scenario join, Scenario? tokenCheck,
        Scenario baseline, List<Check> checks)
    {
        Console.WriteLine();
        Console.WriteLine($"## Results ({options.WrkSettings}; same settings for every row)");
        Console.WriteLine();
        var table = new Table("scenario", "request", "requests/s", "p50 ms", "p99 ms", "errors (non-2xx, socket, timeouts)",
            "users sent (repeats)", "server CPU µs/request", "cores busy");
        foreach (var s in scenarios)
        {
            var r = s.Result;
            var users = r.Slices.Sum() == 0 ? "-" : $"{r.DistinctUsers:N0} ({Repeats(r):P1})";
            table.Row(s.Name, s.Request, r.RequestsPerSecond, r.P50Us / 1000.0, r.P99Us / 1000.0,
                $"{r.StatusErrors}, {r.SocketErrors}, {r.Timeouts}", users, s.Cpu.ServerCores * 1e6 / r.RequestsPerSecond, s.Cpu.ToString());
        }

        Console.Write(table);
        Console.WriteLine();
        var targets = new Table("target", "measured", "result")
            .Row("gateway join >= 50% of the HTTP ceiling", $"{join.Result.RequestsPerSecond / trivial.Result.RequestsPerSecond:P0} " +
                $"({join.Result.RequestsPerSecond:N0} / {trivial.Result.RequestsPerSecond:N0})",
                Verdict(join.Result.RequestsPerSecond >= 0.5 * trivial.Result.RequestsPerSecond))
            .Row("gateway join >= 1.5x the Redis sorted-set baseline", $"{join.Result.RequestsPerSecond / baseline.Result.RequestsPerSecond:F2}x " +
                $"({join.Result.RequestsPerSecond:N0} / {baseline.Result.RequestsPerSecond:N0})",
                Verdict(join.Result.RequestsPerSecond >= 1.5 * baseline.Result.RequestsPerSecond))
            .Row("gateway join >= 10,000/s (embedded, one gateway)", $"{join.Result.RequestsPerSecond:N0}/s",
                Verdict(join.Result.RequestsPerSecond >= 10_000));
        Console.Write(targets);
        if (tokenCheck is not null)
        {
            // Every authenticated request pays for HTTP and the token check, the join and the baseline alike:
            // the token check alone is as fast as a join could ever be on this gateway.
            Console.WriteLine($"Upper bound for any authenticated request on this gateway (token check only): " +
                $"{tokenCheck.Result.RequestsPerSecond:N0}/s = {tokenCheck.Result.RequestsPerSecond / trivial.Result.RequestsPerSecond:P0} of the ceiling, " +
                $"{tokenCheck.Result.RequestsPerSecond / baseline.Result.RequestsPerSecond:F2}x the Redis baseline.");
        }

        Console.WriteLine();

        if (options.ChartName is { } chartName)
        {
            var path = JoinChart.Bars(Chart.DocsPath(chartName),
                $"Joins through one gateway, {Environment.ProcessorCount} cores (wrk -t{options.Threads} -c{options.Connections}, {options.DurationSeconds} s each)",
                [
                    ("GET /health/live (ceiling)", trivial.Result.RequestsPerSecond, false),
                    .. tokenCheck is null ? [] : new[] { ("token check only", tokenCheck.Result.RequestsPerSecond, false) },
                    ("gateway join", join.Result.RequestsPerSecond, true),
                    ("Redis ZADD NX + ZRANK join", baseline.Result.RequestsPerSecond, true),
                ],
                [
                    ("50% of the ceiling", 0.5 * trivial.Result.RequestsPerSecond),
                    ("1.5x the Redis baseline", 1.5 * baseline.Result.RequestsPerSecond),
                    ("10,000 joins/s", 10_000),
                ]);
            Console.WriteLine($"chart: {path}");
        }

        Console.WriteLine();
        Console.WriteLine("## Checks");
        foreach (var check in checks)
        {
            Console.WriteLine($"  {(check.Passed ? "ok  " : "FAIL")}  {check.What}: {check.Detail}");
        }

        var failed = checks.Count(c => !c.Passed);
        Console.WriteLine(failed == 0 ? "All checks passed." : $"{failed} check(s) FAILED.");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>The share of requests that repeated a user this run had already sent.</summary>
    private static double Repeats(WrkResult r) => r.SentTotal == 0 ? 0 : (r.SentTotal - r.DistinctUsers) / (double)r.SentTotal;

    private static string Verdict(bool passed) => passed ? "PASS" : "MISS";

    private static string RedisVersion()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("redis-server", "--version") { RedirectStandardOutput = true })!;
            var line = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return line.Split(' ').FirstOrDefault(p => p.StartsWith("v=", StringComparison.Ordinal)) is { } version
                ? "redis-server " + version[2..]
                : line;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException("redis-server is not installed (Debian: apt-get install redis-server).");
        }
    }
}
