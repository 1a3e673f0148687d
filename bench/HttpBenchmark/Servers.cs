using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using StackExchange.Redis;

namespace TicketQueue.HttpBenchmark;

/// <summary>Builds and starts the three servers of the comparison, each on free loopback ports.</summary>
public static class Servers
{
    public static string RepositoryRoot()
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

    /// <summary>dotnet build -c Release of a project of the repository; its output on failure.</summary>
    public static async Task Build(string repositoryRoot, string project, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = repositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "build", project, "-c", "Release", "-nologo", "-v", "q" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start dotnet build.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet build {project} -c Release failed:\n{await stdout}{await stderr}");
        }
    }

    /// <summary>
    /// The gateway from its Release build output, as production runs it: embedded silo, Production
    /// environment, fresh secrets, no demo events, sign-in rate limit out of the way.
    /// </summary>
    public static async Task<GatewayServer> StartGateway(ChildProcesses children, string repositoryRoot, AccessTokens tokens, CancellationToken cancellationToken)
    {
        var output = Path.Combine(repositoryRoot, "src", "Gateway", "bin", "Release", "net10.0");
        var port = ChildProcesses.FreePort();
        var baseUrl = $"http://127.0.0.1:{port}";
        var process = children.Start("gateway", "dotnet", [Path.Combine(output, "TicketQueue.Gateway.dll")], output, new Dictionary<string, string>
        {
            ["Urls"] = baseUrl,
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["TicketQueue__Auth__SigningKey"] = tokens.SigningKey,
            ["TicketQueue__Tokens__SigningKey"] = AccessTokens.NewKey(),
            ["TicketQueue__Admin__Password"] = AccessTokens.NewKey(),
            ["TicketQueue__RateLimits__AuthPerMinute"] = "1000000",
            ["TicketQueue__SeedDemoData"] = "false",
            ["Orleans__SiloPort"] = ChildProcesses.FreePort().ToString(CultureInfo.InvariantCulture),
            ["Orleans__GatewayPort"] = ChildProcesses.FreePort().ToString(CultureInfo.InvariantCulture),
        });
        var gateway = new GatewayServer(process, baseUrl, tokens.Admin());
        await WaitFor(process, gateway.Http, "/health/ready", TimeSpan.FromSeconds(120), cancellationToken);
        return gateway;
    }

    /// <summary>A throwaway redis-server: no persistence, or AOF with fsync every second.</summary>
    public static async Task<(ChildProcess Process, int Port)> StartRedis(ChildProcesses children, string directory, bool aof, CancellationToken cancellationToken)
    {
        var port = ChildProcesses.FreePort();
        string[] persistence = aof ? ["--appendonly", "yes", "--appendfsync", "everysec"] : ["--appendonly", "no"];
        var process = children.Start("redis", "redis-server",
            ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--dir", directory, .. persistence]);
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var connection = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{port},connectTimeout=1000");
                await connection.GetDatabase().PingAsync();
                return (process, port);
            }
            catch (RedisConnectionException) when (deadline.Elapsed < TimeSpan.FromSeconds(20) && !process.HasExited)
            {
                await Task.Delay(200, cancellationToken);
            }
            catch (RedisConnectionException e)
            {
                throw new InvalidOperationException($"redis-server did not answer on port {port}:\n{process.RecentOutput()}", e);
            }
        }
    }

    /// <summary>bench/RedisQueueBaseline from its Release build output, with the gateway's token settings.</summary>
    public static async Task<(ChildProcess Process, string BaseUrl)> StartBaseline(ChildProcesses children, string repositoryRoot,
        AccessTokens tokens, int redisPort, CancellationToken cancellationToken)
    {
        var output = Path.Combine(repositoryRoot, "bench", "RedisQueueBaseline", "bin", "Release", "net10.0");
        var baseUrl = $"http://127.0.0.1:{ChildProcesses.FreePort()}";
        var process = children.Start("baseline", "dotnet", [Path.Combine(output, "TicketQueue.RedisQueueBaseline.dll")], output,
            new Dictionary<string, string>
            {
                ["Urls"] = baseUrl,
                ["ASPNETCORE_ENVIRONMENT"] = "Production",
                ["TicketQueue__Auth__SigningKey"] = tokens.SigningKey,
                ["Baseline__Redis"] = $"127.0.0.1:{redisPort}",
            });
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        await WaitFor(process, http, "/health/live", TimeSpan.FromSeconds(60), cancellationToken);
        return (process, baseUrl);
    }

    private static async Task WaitFor(ChildProcess process, HttpClient http, string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout && !process.HasExited)
        {
            try
            {
                using var response = await http.GetAsync(path, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            await Task.Delay(250, cancellationToken);
        }

        throw new InvalidOperationException($"The {process.Name} did not answer {path} within {timeout.TotalSeconds:F0} s" +
            $"{(process.HasExited ? " (it exited)" : "")}:\n{process.RecentOutput()}");
    }
}

/// <summary>The running gateway and an admin's view of it.</summary>
public sealed class GatewayServer(ChildProcess process, string baseUrl, string adminToken) : IDisposable
{
    public ChildProcess Process { get; } = process;

    public string BaseUrl { get; } = baseUrl;

    public HttpClient Http { get; } = new()
    {
        BaseAddress = new Uri(baseUrl),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Bearer", adminToken) },
    };

    /// <summary>An event on sale now, with room for everyone to shop at once: admission never holds a join up.</summary>
    public async Task<string> CreateEvent(int admissionsPerMinute, CancellationToken cancellationToken)
    {
        var now = DateTimeOffset.UtcNow;
        var eventId = $"http-bench-{now:yyyyMMddHHmmss}";
        using var response = await Http.PostAsJsonAsync("/api/admin/events", new
        {
            eventId,
            name = "HTTP benchmark",
            venue = "Loopback",
            startsAt = now.AddDays(30),
            salesOpenAt = now.AddMinutes(-1),
            currency = "KRW",
            ticketLimitPerUser = 4,
            blocks = new[] { new { blockId = "floor", name = "Floor", rows = 10, seatsPerRow = 10, price = 50_000 } },
            queue = new
            {
                admissionsPerMinute,
                maxActiveShoppers = 1_000_000,
                claimWindowSeconds = 600,
                // The longest session: nobody's place expires during the run, so a repeat join keeps its place.
                shoppingSessionSeconds = 7_200,
                holdSeconds = 600,
            },
        }, cancellationToken);
        await Require(response, "POST /api/admin/events");

        // Sales are open by the definition; the queue marks itself open on its first tick.
        var deadline = Stopwatch.StartNew();
        while (!(await Stats(eventId, cancellationToken)).GetProperty("opened").GetBoolean())
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new InvalidOperationException($"The queue of {eventId} did not open within 30 s.");
            }

            await Task.Delay(200, cancellationToken);
        }

        return eventId;
    }

    /// <summary>
    /// Tickets issued, once the count has stopped moving: requests wrk left in flight when it stopped are
    /// still being answered for a moment.
    /// </summary>
    public async Task<long> SettledIssued(string eventId, CancellationToken cancellationToken)
    {
        var issued = -1L;
        for (var unchanged = 0; unchanged < 3;)
        {
            await Task.Delay(500, cancellationToken);
            var now = (await Stats(eventId, cancellationToken)).GetProperty("issued").GetInt64();
            unchanged = now == issued ? unchanged + 1 : 0;
            issued = now;
        }

        return issued;
    }

    public async Task<JsonElement> Stats(string eventId, CancellationToken cancellationToken)
    {
        using var response = await Http.GetAsync($"/api/admin/events/{eventId}/stats", cancellationToken);
        await Require(response, "GET stats");
        return await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken);
    }

    public static async Task Require(HttpResponseMessage response, string what)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{what}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    public void Dispose()
    {
        Http.Dispose();
        Process.Dispose();
    }
}
