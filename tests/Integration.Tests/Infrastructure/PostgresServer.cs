using System.Globalization;
using Npgsql;

namespace TicketQueue.Integration.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL server: <c>initdb</c> into a temporary folder, <c>pg_ctl</c> on a free port,
/// loopback only, trust authentication. The binaries come from <c>/usr/lib/postgresql/*/bin</c>.
/// PostgreSQL refuses to run as root, so under root it runs as the <c>postgres</c> user.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _bin;
    private readonly string _root;

    private PostgresServer(string bin, string root, int port)
    {
        _bin = bin;
        _root = root;
        Port = port;
    }

    public int Port { get; }

    private string DataDirectory => Path.Combine(_root, "data");

    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Timeout=5;Command Timeout=15";

    public static async Task<PostgresServer> Start()
    {
        var bin = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0)
                .FirstOrDefault()
            : null;
        if (bin is null)
        {
            throw new InvalidOperationException("No PostgreSQL server binaries under /usr/lib/postgresql/*/bin: run scripts/test.sh, which installs them.");
        }

        var root = Path.Combine(Path.GetTempPath(), "ticketqueue-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        var server = new PostgresServer(bin, root, ExternalProcess.FreePort());
        if (RunningAsRoot)
        {
            await ExternalProcess.Run("chown", ["-R", "postgres", root], TimeSpan.FromSeconds(10));
        }

        await server.Pg("initdb", ["-D", server.DataDirectory, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"], TimeSpan.FromMinutes(1));
        await server.StartServer();
        return server;
    }

    /// <summary>Creates a database and applies the repository's init-db.sql to it, as docker-compose does.</summary>
    public async Task<string> CreateDatabase(string name)
    {
        // Unpooled: an earlier throwaway server may have had this port, and a pooled connection to it is dead.
        await using (var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(ConnectionString("postgres")) { Pooling = false }.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        await ApplyInitScript(name);
        return ConnectionString(name);
    }

    public Task ApplyInitScript(string database) =>
        ExternalProcess.Run("psql", ["-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", "postgres",
            "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-f", RepositoryPaths.File("init-db.sql")], TimeSpan.FromMinutes(1));

    /// <summary>A fast shutdown: clients are disconnected, committed data stays.</summary>
    public Task Stop() => Pg("pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "stop"], TimeSpan.FromMinutes(1));

    public Task StartServer() => Pg("pg_ctl", ["-D", DataDirectory, "-w", "-l", Path.Combine(_root, "server.log"),
        "-o", $"-p {Port} -k {_root} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off", "start"], TimeSpan.FromMinutes(1));

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Pg("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"], TimeSpan.FromSeconds(30));
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            // Already stopped.
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static bool RunningAsRoot => Environment.UserName == "root";

    private Task<string> Pg(string tool, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var path = Path.Combine(_bin, tool);
        return RunningAsRoot
            ? ExternalProcess.Run("runuser", ["-u", "postgres", "--", path, .. arguments], timeout)
            : ExternalProcess.Run(path, arguments, timeout);
    }
}
