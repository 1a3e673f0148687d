using System.Globalization;

namespace TicketQueue.Integration.Tests.Infrastructure;

/// <summary>
/// A throwaway <c>redis-server</c> on a free loopback port, persisting to an append-only file in a
/// temporary folder, as a Redis holding cluster membership and reminders must: a restart keeps them.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string _root;
    private ExternalProcess? _process;

    private RedisServer(string root, int port)
    {
        _root = root;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port},abortConnect=false,connectTimeout=2000,syncTimeout=3000";

    public static async Task<RedisServer> Start()
    {
        if (!File.Exists("/usr/bin/redis-server") && !File.Exists("/usr/local/bin/redis-server"))
        {
            throw new InvalidOperationException("redis-server is not installed: run scripts/test.sh, which installs it (apt-get install redis-server).");
        }

        var root = Path.Combine(Path.GetTempPath(), "ticketqueue-redis-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        var server = new RedisServer(root, ExternalProcess.FreePort());
        await server.StartServer();
        return server;
    }

    public async Task StartServer()
    {
        _process = ExternalProcess.Start("redis", "redis-server",
            ["--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", _root,
             "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no"]);
        await ExternalProcess.WaitForPort(Port, TimeSpan.FromSeconds(20), () => _process.Tail());
    }

    /// <summary>SIGTERM: Redis flushes its append-only file and exits.</summary>
    public async Task Stop()
    {
        if (_process is not null)
        {
            await _process.Terminate(TimeSpan.FromSeconds(20));
            _process.Dispose();
            _process = null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _process?.Dispose();
        await Task.Yield();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
