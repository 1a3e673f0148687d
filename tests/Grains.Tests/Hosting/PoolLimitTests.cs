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
        // docker-compose.yml runs two silos against one postgres with its default max_connections of 100.
        Assert.True(2 * SiloConfiguration.PoolsPerSilo * SiloConfiguration.DefaultMaxPoolSize <= 90);
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
