using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Npgsql;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Grains.Tests.Hosting;

public sealed class PoolLimitTests
{
    [Fact]
    public void A_connection_string_without_a_pool_size_gets_the_default_limit()
    {
        var limited = new NpgsqlConnectionStringBuilder(SiloConfiguration.WithPoolLimit("Host=db;Database=ticketqueue;Username=tq"));

        Assert.Equal(SiloConfiguration.DefaultMaxPoolSize, limited.MaxPoolSize);
        Assert.Equal("db", limited.Host);
    }

    [Fact]
    public void Two_silos_stay_under_PostgreSQLs_default_connection_limit_with_room_to_spare()
    {
        // The pools a cluster silo really registers, counted from its configuration (not from a constant
        // that a new storage provider would leave behind): one per distinct connection string.
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TicketQueue:Mode"] = "Cluster",
            ["ConnectionStrings:Postgres"] = "Host=db;Database=ticketqueue;Username=tq;Password=x",
            ["ConnectionStrings:Redis"] = "redis:6379",
        });
        builder.UseOrleans(silo => silo.AddTicketQueue(builder.Configuration));
        using var host = builder.Build();
        var storage = host.Services.GetRequiredService<IOptionsMonitor<AdoNetGrainStorageOptions>>();
        var storagePools = StorageNames.Schemas.Keys.Select(name => storage.Get(name).ConnectionString ?? "").Distinct().ToList();
        var dataSource = host.Services.GetRequiredService<NpgsqlDataSource>();
        // A data source keeps a pool of its own, whatever its connection string.
        var pools = storagePools.Count + 1;

        Assert.Equal(SiloConfiguration.PoolsPerSilo, pools);
        Assert.All([.. storagePools, dataSource.ConnectionString],
            c => Assert.Equal(SiloConfiguration.DefaultMaxPoolSize, new NpgsqlConnectionStringBuilder(c).MaxPoolSize));
        // docker-compose.yml runs two silos against one postgres with its default max_connections of 100.
        Assert.True(2 * pools * SiloConfiguration.DefaultMaxPoolSize <= 90, $"{pools} pools of {SiloConfiguration.DefaultMaxPoolSize} per silo");
    }

    [Theory]
    [InlineData("Host=db;Maximum Pool Size=40")]
    [InlineData("Host=db;MaxPoolSize=40")]
    [InlineData("Host=db;maxpoolsize=40")]
    public void A_pool_size_the_operator_set_is_kept(string connectionString)
    {
        Assert.Equal(40, new NpgsqlConnectionStringBuilder(SiloConfiguration.WithPoolLimit(connectionString)).MaxPoolSize);
    }
}
