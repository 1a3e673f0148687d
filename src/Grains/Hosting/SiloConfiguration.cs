using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using TicketQueue.Grains.Payments;
using TicketQueue.Grains.Queue;

namespace TicketQueue.Grains.Hosting;

/// <summary>
/// The one place that configures a TicketQueue silo: the standalone silo host and the gateway's
/// embedded silo both call <see cref="AddTicketQueue"/>.
/// </summary>
public static class SiloConfiguration
{
    /// <summary>A complete TicketQueue silo: its clustering and its grains.</summary>
    public static ISiloBuilder AddTicketQueue(this ISiloBuilder silo, IConfiguration configuration) =>
        silo.AddTicketQueueClustering(configuration).AddTicketQueueGrains(configuration);

    /// <summary>
    /// Cluster identity and membership (localhost clustering on the configured ports). Kept apart from
    /// <see cref="AddTicketQueueGrains"/> so a host with clustering of its own, such as the Orleans
    /// TestingHost, can take the grains without it.
    /// </summary>
    public static ISiloBuilder AddTicketQueueClustering(this ISiloBuilder silo, IConfiguration configuration)
    {
        var orleans = configuration.GetSection("Orleans");
        silo.Configure<Orleans.Configuration.ClusterOptions>(o =>
        {
            o.ClusterId = orleans["ClusterId"] ?? "ticketqueue";
            o.ServiceId = orleans["ServiceId"] ?? "ticketqueue";
        });
        silo.UseLocalhostClustering(
            siloPort: orleans.GetValue("SiloPort", 11111),
            gatewayPort: orleans.GetValue("GatewayPort", 30000));
        return silo;
    }

    /// <summary>What the grains need: storage, reminders, the clock, queue options and payment providers.</summary>
    public static ISiloBuilder AddTicketQueueGrains(this ISiloBuilder silo, IConfiguration configuration)
    {
        silo.AddMemoryGrainStorage(StorageNames.Default);
        // Grain state is stored in Orleans' own binary format: every state type is [GenerateSerializer]
        // with stable [Id]s, so it is version tolerant, and it is several times smaller and faster than
        // the default JSON (which matters for the queue shards, whose state grows with the crowd).
        silo.Services.AddOptions<Orleans.Configuration.MemoryGrainStorageOptions>(StorageNames.Default)
            .Configure<Orleans.Serialization.Serializer>((o, serializer) => o.GrainStorageSerializer = new Orleans.Storage.OrleansGrainStorageSerializer(serializer));
        silo.UseInMemoryReminderService();

        silo.Services.TryAddSingleton(TimeProvider.System);
        silo.Services.Configure<QueueOptions>(configuration.GetSection("TicketQueue:Queue"));
        silo.Services.AddSingleton<IPaymentProvider, SandboxPaymentProvider>();
        silo.Services.AddSingleton<PaymentProviders>();

        if (configuration.GetValue("TicketQueue:SeedDemoData", false))
        {
            silo.AddStartupTask((services, _) => DemoData.Seed(
                services.GetRequiredService<IGrainFactory>(), services.GetRequiredService<TimeProvider>()));
        }

        return silo;
    }
}
