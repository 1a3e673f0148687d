using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace TicketQueue.Grains.DomainEvents.Relay;

public static class OutboxRelayRegistration
{
    /// <summary>
    /// The outbox relay (when <c>TicketQueue:Events:Kafka:BootstrapServers</c> is set; otherwise the pruner
    /// of events no relay will ship) and the lag monitor.
    /// Both read the outbox through the <see cref="Npgsql.NpgsqlDataSource"/> the host registers; without one
    /// (embedded mode) the relay and monitor stay idle and <see cref="IOutboxStatusGrain"/> reports no lag.
    /// </summary>
    public static IServiceCollection AddOutboxRelay(this IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(OutboxRelayOptions.SectionName);
        services.AddOptions<OutboxRelayOptions>()
            .Bind(section)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OutboxRelayOptions>, OptionsValidation>());
        services.AddMetrics();
        services.TryAddSingleton(TimeProvider.System);

        services.AddSingleton<OutboxLagMonitor>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxLagMonitor>());

        var relay = new OutboxRelayOptions();
        section.Bind(relay);
        if (relay.RelayEnabled)
        {
            services.AddSingleton<OutboxRelay>();
            services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());
        }
        else
        {
            services.AddHostedService<UnshippedOutboxPruner>();
        }

        return services;
    }

    private sealed class OptionsValidation : IValidateOptions<OutboxRelayOptions>
    {
        public ValidateOptionsResult Validate(string? name, OutboxRelayOptions options) =>
            options.Problems().ToList() is { Count: > 0 } problems ? ValidateOptionsResult.Fail(problems) : ValidateOptionsResult.Success;
    }
}
