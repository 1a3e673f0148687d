using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Orleans.Hosting;
using StackExchange.Redis;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Bench;

/// <summary>
/// The benchmark as an Orleans client of a running cluster, as a cluster-mode gateway is: it finds the
/// silos' gateway endpoints in the Redis membership table and sends every grain call over the network.
/// </summary>
internal static class ClusterClient
{
    /// <summary>How long to keep trying to reach a gateway at start: silos may still be joining the membership.</summary>
    private static readonly TimeSpan ConnectDeadline = TimeSpan.FromSeconds(60);

    public static HostApplicationBuilder UseBenchmarkClient(this HostApplicationBuilder builder, string redis, string clusterId, string serviceId)
    {
        var redisOptions = ConfigurationOptions.Parse(redis);
        var connectStarted = DateTime.UtcNow;
        builder.UseOrleansClient(client =>
        {
            client.UseRedisClustering(o => o.ConfigurationOptions = redisOptions);
            client.Services.AddGrainInterfaceTypeCache();
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = serviceId;
            });
            client.UseConnectionRetryFilter(async (_, cancellationToken) =>
            {
                if (DateTime.UtcNow - connectStarted > ConnectDeadline)
                {
                    return false;
                }

                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                return true;
            });
        });
        return builder;
    }
}
