using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans.Configuration;
using Orleans.Storage;
using StackExchange.Redis;
using TicketQueue.Grains.DomainEvents;
using TicketQueue.Grains.DomainEvents.Relay;
using TicketQueue.Grains.Payments;
using TicketQueue.Grains.Queue;

namespace TicketQueue.Grains.Hosting;

/// <summary>
/// The one place that configures a TicketQueue silo: the standalone silo host and the gateway's
/// embedded silo both call <see cref="AddTicketQueue"/>. <c>TicketQueue:Mode</c> chooses between the
/// embedded stack (memory) and the cluster stack (Redis and PostgreSQL); nothing else differs.
/// </summary>
public static class SiloConfiguration
{
    /// <summary>A complete TicketQueue silo: its clustering and its grains.</summary>
    public static ISiloBuilder AddTicketQueue(this ISiloBuilder silo, IConfiguration configuration) =>
        silo.AddTicketQueueClustering(configuration).AddTicketQueueGrains(configuration);

    /// <summary>
    /// Cluster identity, endpoints and membership. Kept apart from <see cref="AddTicketQueueGrains"/> so a
    /// host with clustering of its own, such as the Orleans TestingHost, can take the grains without it.
    /// </summary>
    public static ISiloBuilder AddTicketQueueClustering(this ISiloBuilder silo, IConfiguration configuration)
    {
        var orleans = configuration.GetSection("Orleans");
        silo.Configure<ClusterOptions>(o => ClusterSettings.ConfigureIdentity(o, configuration));
        var siloPort = orleans.GetValue("SiloPort", 11111);
        var gatewayPort = orleans.GetValue("GatewayPort", 30000);

        if (ClusterSettings.Mode(configuration) == HostingMode.Embedded)
        {
            silo.UseLocalhostClustering(siloPort, gatewayPort);
            return silo;
        }

        // Other silos and gateways reach this one at the advertised address. Orleans' default is the lowest
        // non-loopback IPv4 address of the interfaces that are up; set Orleans:AdvertisedIP where that is not
        // it (several silos on one machine use 127.0.0.1).
        if (orleans["AdvertisedIP"] is { Length: > 0 } advertised)
        {
            if (!IPAddress.TryParse(advertised, out var address))
            {
                throw new InvalidOperationException($"Orleans:AdvertisedIP is '{advertised}', which is not an IP address.");
            }

            silo.ConfigureEndpoints(address, siloPort, gatewayPort, listenOnAnyHostAddress: true);
        }
        else
        {
            silo.ConfigureEndpoints(siloPort, gatewayPort, listenOnAnyHostAddress: true);
        }

        var redis = ConfigurationOptions.Parse(ClusterSettings.Redis(configuration));
        silo.UseRedisClustering(o => o.ConfigurationOptions = redis);
        // How fast a dead silo is noticed and how long a call waits: Orleans' defaults unless configured.
        silo.Configure<ClusterMembershipOptions>(orleans.GetSection("Membership"));
        silo.Configure<SiloMessagingOptions>(orleans.GetSection("Messaging"));
        // A silo whose membership row was lost with Redis's data stops, so that a fresh start re-forms the cluster.
        MembershipWatchdog.IntervalFrom(configuration);
        silo.Services.AddHostedService<MembershipWatchdog>();
        return silo;
    }

    /// <summary>What the grains need: storage, reminders, the clock, queue options and payment providers.</summary>
    public static ISiloBuilder AddTicketQueueGrains(this ISiloBuilder silo, IConfiguration configuration)
    {
        if (ClusterSettings.Mode(configuration) == HostingMode.Cluster)
        {
            AddClusterStorage(silo, configuration);
        }
        else
        {
            AddMemoryStorage(silo);
        }

        silo.Services.AddGrainInterfaceTypeCache();
        silo.Services.TryAddSingleton(TimeProvider.System);
        // Checked at start: a block of 0 or less would hand out numbers it never reserved (duplicates after
        // a crash), and a tick of 0 or less cannot run.
        silo.Services.AddOptions<QueueOptions>()
            .Bind(configuration.GetSection("TicketQueue:Queue"))
            .Validate(o => o.TicketBlockSize >= 1, "TicketQueue:Queue:TicketBlockSize must be at least 1.")
            .Validate(o => o.TickInterval > TimeSpan.Zero, "TicketQueue:Queue:TickInterval must be longer than zero.")
            // A bare number is read as days: "1" would admit once a day.
            .Validate(o => o.TickInterval <= TimeSpan.FromMinutes(1), "TicketQueue:Queue:TickInterval must be at most 00:01:00 (a bare number is read as days; write hh:mm:ss).")
            .ValidateOnStart();
        // Ships the outbox to Kafka when TicketQueue:Events:Kafka:BootstrapServers is set (cluster mode).
        silo.Services.AddOutboxRelay(configuration);
        silo.Services.AddSingleton<IPaymentProvider, SandboxPaymentProvider>();
        silo.Services.AddSingleton<PaymentProviders>();

        if (configuration.GetValue("TicketQueue:SeedDemoData", false))
        {
            silo.AddStartupTask((services, _) => DemoData.Seed(
                services.GetRequiredService<IGrainFactory>(), services.GetRequiredService<TimeProvider>()));
        }

        return silo;
    }

    private static void AddMemoryStorage(ISiloBuilder silo)
    {
        foreach (var name in StorageNames.Schemas.Keys)
        {
            silo.AddMemoryGrainStorage(name);
            silo.Services.AddOptions<MemoryGrainStorageOptions>(name)
                .Configure<Orleans.Serialization.Serializer>((o, serializer) => o.GrainStorageSerializer = BinaryFormat(serializer));
        }

        silo.Services.TryAddSingleton<InProcessEventLog>();
        silo.Services.TryAddSingleton<IDomainEventOutbox>(sp => sp.GetRequiredService<InProcessEventLog>());
        silo.Services.TryAddSingleton<IQueueEntryStore, MemoryQueueEntryStore>();
        silo.UseInMemoryReminderService();
    }

    private static void AddClusterStorage(ISiloBuilder silo, IConfiguration configuration)
    {
        var postgres = WithPoolLimit(ClusterSettings.Postgres(configuration));
        foreach (var (name, schema) in StorageNames.Schemas)
        {
            // Every provider runs the same queries (init-db.sql); the search path sends them to the
            // grain_state table of the provider's own schema.
            var connectionString = new NpgsqlConnectionStringBuilder(postgres) { SearchPath = $"{schema},public" }.ConnectionString;
            silo.AddAdoNetGrainStorage(name, o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            });
            silo.Services.AddOptions<AdoNetGrainStorageOptions>(name)
                .Configure<Orleans.Serialization.Serializer>((o, serializer) => o.GrainStorageSerializer = BinaryFormat(serializer));
        }

        silo.Services.TryAddSingleton(_ => NpgsqlDataSource.Create(postgres));
        silo.Services.TryAddSingleton<IQueueEntryStore, PostgresQueueEntryStore>();
        silo.Services.TryAddSingleton<IDomainEventOutbox, PostgresOutbox>();

        var redis = ConfigurationOptions.Parse(ClusterSettings.Redis(configuration));
        silo.UseRedisReminderService(o => o.ConfigurationOptions = redis);
    }

    /// <summary>
    /// Connection pools a cluster silo keeps: one per grain storage provider (each has its own search
    /// path, so its own connection string) and the data source of the queue records and the outbox.
    /// </summary>
    public static int PoolsPerSilo => StorageNames.Schemas.Count + 1;

    /// <summary>
    /// Each pool would otherwise allow Npgsql's default of 100 connections. Unless the connection string
    /// says otherwise, a pool holds at most 9: two silos then use at most 90 connections, under
    /// PostgreSQL's default max_connections (100) with room for an operator's session. Run more silos
    /// against one server, and raise max_connections or set Maximum Pool Size.
    /// </summary>
    public const int DefaultMaxPoolSize = 9;

    internal static string WithPoolLimit(string connectionString)
    {
        // NpgsqlConnectionStringBuilder.ContainsKey answers for every keyword Npgsql knows, set or not:
        // ask a plain builder what the string itself says.
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString };
        if (given.ContainsKey("Maximum Pool Size") || given.ContainsKey("MaxPoolSize"))
        {
            return connectionString;
        }

        return new NpgsqlConnectionStringBuilder(connectionString) { MaxPoolSize = DefaultMaxPoolSize }.ConnectionString;
    }

    // Grain state is stored in Orleans' own binary format: every state type is [GenerateSerializer] with
    // stable [Id]s, so it is version tolerant, and it is several times smaller and faster than JSON.
    private static OrleansGrainStorageSerializer BinaryFormat(Orleans.Serialization.Serializer serializer) => new(serializer);
}
