using System.Globalization;

namespace TicketQueue.Integration.Tests.Infrastructure;

/// <summary>
/// Cluster mode for real: a throwaway PostgreSQL and Redis, silos (src/Silo) and gateways (src/Gateway)
/// as separate OS processes configured only through environment variables, as an operator would.
/// </summary>
public sealed class ProcessCluster : IAsyncDisposable
{
    private readonly List<SiloProcess> _silos = [];
    private readonly List<GatewayProcess> _gateways = [];
    private readonly string _clusterId = "it-" + Guid.NewGuid().ToString("N")[..8];

    private ProcessCluster(PostgresServer postgres, RedisServer redis, string database)
    {
        Postgres = postgres;
        Redis = redis;
        DatabaseConnectionString = database;
    }

    public PostgresServer Postgres { get; }

    public RedisServer Redis { get; }

    public string DatabaseConnectionString { get; }

    public IReadOnlyList<SiloProcess> Silos => _silos;

    public IReadOnlyList<GatewayProcess> Gateways => _gateways;

    /// <summary>Kafka brokers the silos' outbox relays publish to; none by default.</summary>
    public string? KafkaBootstrapServers { get; init; }

    public static async Task<ProcessCluster> Start(int silos, int gateways, string? kafkaBootstrapServers = null)
    {
        var postgres = await PostgresServer.Start();
        RedisServer? redis = null;
        string database;
        try
        {
            redis = await RedisServer.Start();
            database = await postgres.CreateDatabase("ticketqueue");
        }
        catch
        {
            // Nothing else stops them: pg_ctl detaches the server from the test process.
            await postgres.DisposeAsync();
            if (redis is not null)
            {
                await redis.DisposeAsync();
            }

            throw;
        }

        var cluster = new ProcessCluster(postgres, redis, database) { KafkaBootstrapServers = kafkaBootstrapServers };
        try
        {
            for (var i = 0; i < silos; i++)
            {
                await cluster.StartSilo();
            }

            for (var i = 0; i < gateways; i++)
            {
                await cluster.StartGateway();
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    private Dictionary<string, string> Common() => new()
    {
        ["TicketQueue__Mode"] = "Cluster",
        ["ConnectionStrings__Redis"] = Redis.ConnectionString,
        ["Orleans__ClusterId"] = _clusterId,
        ["Orleans__ServiceId"] = "ticketqueue-tests",
        ["DOTNET_ENVIRONMENT"] = "Development",
        ["ASPNETCORE_ENVIRONMENT"] = "Development",
        ["Logging__LogLevel__Default"] = "Warning",
    };

    /// <summary>Starts a silo, on the given ports when it replaces one that was killed.</summary>
    public async Task<SiloProcess> StartSilo(int? siloPort = null, int? gatewayPort = null)
    {
        var ports = (Silo: siloPort ?? ExternalProcess.FreePort(), Gateway: gatewayPort ?? ExternalProcess.FreePort());
        var environment = Common();
        environment["ConnectionStrings__Postgres"] = DatabaseConnectionString;
        environment["Orleans__SiloPort"] = ports.Silo.ToString(CultureInfo.InvariantCulture);
        environment["Orleans__GatewayPort"] = ports.Gateway.ToString(CultureInfo.InvariantCulture);
        environment["Orleans__AdvertisedIP"] = "127.0.0.1";
        environment["TicketQueue__SeedDemoData"] = "false";
        environment["TicketQueue__Queue__TickInterval"] = "00:00:00.200";
        // A silo whose membership row is lost (Redis's data gone) stops after three checks: seconds, not 30.
        environment["TicketQueue__Membership__WatchdogInterval"] = "00:00:01";
        if (KafkaBootstrapServers is not null)
        {
            environment["TicketQueue__Events__Kafka__BootstrapServers"] = KafkaBootstrapServers;
            environment["TicketQueue__Events__PollInterval"] = "00:00:00.100";
        }

        var dll = RepositoryPaths.Built("Silo");
        var process = ExternalProcess.Start($"silo-{_silos.Count}", "dotnet", [dll], environment, Path.GetDirectoryName(dll));
        var silo = new SiloProcess(process, ports.Silo, ports.Gateway);
        _silos.Add(silo);
        await ExternalProcess.WaitForPort(ports.Gateway, TimeSpan.FromSeconds(60), () => process.Tail());
        return silo;
    }

    public async Task<GatewayProcess> StartGateway()
    {
        var port = ExternalProcess.FreePort();
        var environment = Common();
        environment["Urls"] = $"http://127.0.0.1:{port}";
        environment["TicketQueue__RateLimits__AuthPerMinute"] = "100000";

        var dll = RepositoryPaths.Built("Gateway");
        var process = ExternalProcess.Start($"gateway-{_gateways.Count}", "dotnet", [dll], environment, Path.GetDirectoryName(dll));
        var gateway = new GatewayProcess(process, new Uri($"http://127.0.0.1:{port}"));
        _gateways.Add(gateway);
        await gateway.WaitUntilReady(TimeSpan.FromSeconds(90));
        return gateway;
    }

    /// <summary>What every process printed, for a failure message.</summary>
    public string Logs() => string.Join("\n", _silos.Select(s => s.Process).Concat(_gateways.Select(g => g.Process))
        .Select(p => $"--- {p.Name} ---\n{p.Tail(30)}"));

    public async ValueTask DisposeAsync()
    {
        foreach (var gateway in _gateways)
        {
            gateway.Dispose();
        }

        foreach (var silo in _silos)
        {
            silo.Process.Dispose();
        }

        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
    }
}

public sealed record SiloProcess(ExternalProcess Process, int SiloPort, int GatewayPort);
