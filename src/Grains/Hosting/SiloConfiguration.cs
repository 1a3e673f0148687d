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
    public static ISiloBuilder AddTicketQueue(this ISiloBuilder silo, IConfiguration configuration)
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
        silo.AddMemoryGrainStorage(StorageNames.Default);
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
