using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

using TicketQueue.Bench;

namespace TicketQueue.JoinBenchmark;

/// <summary>
/// The common Redis design of a waiting room, for comparison: one sorted set per event, a member per user
/// (the user id as text) added with ZADD NX, scored by arrival. A throwaway redis-server on a free loopback
/// port, nothing saved to disk; what it reports as <c>used_memory</c> (INFO memory: the bytes its allocator
/// handed out) grows by this much per member.
/// </summary>
internal sealed class RedisBaseline : IAsyncDisposable
{
    /// <summary>Shown instead of a measurement when no redis-server could be started.</summary>
    public const double CitedBytesPerMember = 109;

    private const string Key = "waiting-room:bench";
    private const int MembersPerCommand = 1_000;

    private readonly Process _server;
    private readonly ConnectionMultiplexer _redis;
    private readonly string _folder;

    private RedisBaseline(Process server, ConnectionMultiplexer redis, string folder, string version, string allocator)
    {
        _server = server;
        _redis = redis;
        _folder = folder;
        Version = version;
        Allocator = allocator;
    }

    public string Version { get; }

    public string Allocator { get; }

    public Process Server => _server;

    /// <summary>
    /// A redis-server of our own, working in <paramref name="folder"/> (created here), or null (with the reason on
    /// the console) when none can be started. <paramref name="started"/> learns of the process as soon as it runs.
    /// </summary>
    public static async Task<RedisBaseline?> TryStart(string folder, Action<Process> started)
    {
        Directory.CreateDirectory(folder);
        var port = BenchSilo.FreePort();
        var start = new ProcessStartInfo("redis-server")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[]
        {
            "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--protected-mode", "yes",
            "--save", "", "--appendonly", "no", "--dir", folder, "--daemonize", "no", "--loglevel", "warning",
        })
        {
            start.ArgumentList.Add(arg);
        }

        Process server;
        try
        {
            server = Process.Start(start) ?? throw new InvalidOperationException("no process");
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            Console.WriteLine($"  redis-server could not be started ({e.Message}): the cited figure is plotted instead");
            Directory.Delete(folder, recursive: true);
            return null;
        }

        started(server);
        server.OutputDataReceived += (_, _) => { };
        server.ErrorDataReceived += (_, _) => { };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();

        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                var redis = await ConnectionMultiplexer.ConnectAsync(
                    $"127.0.0.1:{port},allowAdmin=true,abortConnect=true,connectTimeout=1000,syncTimeout=60000,asyncTimeout=60000");
                var info = await redis.GetServer($"127.0.0.1:{port}").InfoAsync();
                string Field(string name) => info.SelectMany(g => g).FirstOrDefault(p => p.Key == name).Value ?? "?";
                return new RedisBaseline(server, redis, folder, Field("redis_version"), Field("mem_allocator"));
            }
            catch (RedisConnectionException) when (!server.HasExited && watch.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(100);
            }
            catch (RedisConnectionException e)
            {
                Console.WriteLine($"  redis-server did not answer on port {port} ({e.Message}): the cited figure is plotted instead");
                Stop(server);
                Directory.Delete(folder, recursive: true);
                return null;
            }
        }
    }

    /// <summary>
    /// Bytes of <c>used_memory</c> per member of one sorted set of <paramref name="members"/> random user ids
    /// (32-character text, as the baseline endpoint stores them), added with ZADD NX in commands of a thousand; the set is dropped afterwards.
    /// </summary>
    public async Task<(double BytesPerMember, long Members)> BytesPerMember(int members, int seed)
    {
        var database = _redis.GetDatabase();
        await database.ExecuteAsync("FLUSHALL", "SYNC");
        var before = await Settled();

        var random = new Random(seed);
        var bytes = new byte[16];
        var pending = new List<Task>();
        for (var first = 0; first < members; first += MembersPerCommand)
        {
            var entries = new SortedSetEntry[Math.Min(MembersPerCommand, members - first)];
            for (var i = 0; i < entries.Length; i++)
            {
                random.NextBytes(bytes);
                entries[i] = new SortedSetEntry(new Guid(bytes).ToString("N"), first + i + 1);
            }

            pending.Add(database.SortedSetAddAsync(Key, entries, SortedSetWhen.NotExists));
            if (pending.Count == 16)
            {
                await Task.WhenAll(pending);
                pending.Clear();
            }
        }

        await Task.WhenAll(pending);
        var count = await database.SortedSetLengthAsync(Key);
        var after = await Settled();
        await database.ExecuteAsync("FLUSHALL", "SYNC");
        return ((double)(after - before) / members, count);
    }

    public async ValueTask DisposeAsync()
    {
        await _redis.CloseAsync(allowCommandsToComplete: false);
        _redis.Dispose();
        Stop(_server);
        Directory.Delete(_folder, recursive: true);
    }

    public static void Stop(Process server)
    {
        try
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
                server.WaitForExit(5_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    // A growing hash table is rehashed a step at a time, also by the server's cron after the last command:
    // read used_memory until it stops moving, so the figure is not taken while two tables exist.
    private async Task<long> Settled()
    {
        var server = _redis.GetServers()[0];
        long last = -1;
        for (var reading = 0; reading < 50; reading++)
        {
            var info = await server.InfoAsync("memory");
            var used = long.Parse(info.SelectMany(g => g).First(p => p.Key == "used_memory").Value, CultureInfo.InvariantCulture);
            if (used == last)
            {
                return used;
            }

            last = used;
            await Task.Delay(200);
        }

        return last;
    }
}
