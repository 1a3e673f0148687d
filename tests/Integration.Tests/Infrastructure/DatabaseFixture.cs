using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Integration.Tests.Infrastructure;

/// <summary>
/// A throwaway PostgreSQL (with init-db.sql applied) and Redis, and an in-process silo whose grains use
/// them exactly as a cluster-mode silo does: ADO.NET grain storage, PostgreSQL queue records, Redis reminders.
/// </summary>
public sealed class DatabaseFixture : IAsyncLifetime
{
    private PostgresServer? _postgres;
    private RedisServer? _redis;
    private InProcessTestCluster? _cluster;

    public PostgresServer Postgres => _postgres ?? throw new InvalidOperationException("Not started.");

    public RedisServer Redis => _redis ?? throw new InvalidOperationException("Not started.");

    public string ConnectionString { get; private set; } = "";

    public InProcessTestCluster Cluster => _cluster ?? throw new InvalidOperationException("Not started.");

    public IGrainFactory Grains => Cluster.Client;

    public IServiceProvider SiloServices => Cluster.Silos[0].ServiceProvider;

    public async ValueTask InitializeAsync()
    {
        _postgres = await PostgresServer.Start();
        _redis = await RedisServer.Start();
        ConnectionString = await _postgres.CreateDatabase("storage_tests");

        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                [ClusterSettings.ModeKey] = "Cluster",
                ["ConnectionStrings:Postgres"] = ConnectionString,
                ["ConnectionStrings:Redis"] = _redis.ConnectionString,
            })
            .Build();
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) => silo.AddTicketQueueGrains(configuration));
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    /// <summary>Deactivates every grain, so the next call loads its state from PostgreSQL.</summary>
    public Task DeactivateAll() =>
        Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class DatabaseCollection : ICollectionFixture<DatabaseFixture>
{
    public const string Name = "database";
}
