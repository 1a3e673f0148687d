using Microsoft.Extensions.Diagnostics.HealthChecks;
using TicketQueue.Grains.DomainEvents.Relay;

namespace TicketQueue.Gateway.Hosting;

/// <summary>
/// The event relay's lag on <c>/health/ready</c>. Over the threshold the gateway reports itself
/// <em>degraded</em>, not unhealthy: a slow Kafka must not take the waiting room away from users, but
/// operators and alerts see it (status "Degraded", HTTP 200, the numbers in the description).
/// </summary>
public sealed class OutboxCheck(IGrainFactory grains) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            return Report(await grains.GetGrain<IOutboxStatusGrain>(0).GetLag().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken));
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Degraded("the outbox lag is unknown", e);
        }
    }

    /// <summary>Healthy while the oldest unpublished event is within the alert threshold, else Degraded; with the numbers.</summary>
    public static HealthCheckResult Report(OutboxStatus status)
    {
        var data = new Dictionary<string, object>
        {
            ["unshipped"] = status.Unshipped,
            ["oldestAgeSeconds"] = Math.Round(status.OldestAgeSeconds, 1),
            ["alertThresholdSeconds"] = status.AlertThresholdSeconds,
            ["relayEnabled"] = status.RelayEnabled,
        };
        return status.Healthy
            ? HealthCheckResult.Healthy($"{status.Unshipped} events waiting to be published", data)
            : HealthCheckResult.Degraded(
                $"{status.Unshipped} events waiting to be published, the oldest for {status.OldestAgeSeconds:F0} s (alert at {status.AlertThresholdSeconds} s)",
                data: data);
    }
}
