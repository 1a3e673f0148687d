using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Concurrency;

namespace TicketQueue.Grains.DomainEvents.Relay;

/// <summary>
/// The outbox relay's lag as the gateway's readiness check sees it. Any key will do; use 0. A stateless
/// worker, so each silo answers from its own connection pool.
/// </summary>
[Alias("tq.IOutboxStatusGrain")]
public interface IOutboxStatusGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// The lag, measured at most a second ago. Throws when PostgreSQL cannot be reached: the lag is then
    /// unknown, and the caller decides what that means for its health.
    /// </summary>
    [Alias("GetLag")] Task<OutboxStatus> GetLag();
}

/// <summary>
/// Events in the outbox not yet acknowledged by Kafka, the age of the oldest, and whether that is within
/// <see cref="AlertThresholdSeconds"/>. With the relay off (no Kafka configured) nothing is expected to
/// leave the outbox, and the status is healthy whatever the backlog; without a PostgreSQL outbox
/// (embedded mode) it is zero and healthy.
/// </summary>
[GenerateSerializer, Immutable, Alias("tq.OutboxStatus")]
public sealed record OutboxStatus(
    [property: Id(0)] long Unshipped,
    [property: Id(1)] double OldestAgeSeconds,
    [property: Id(2)] int AlertThresholdSeconds,
    [property: Id(3)] bool Healthy,
    [property: Id(4)] bool RelayEnabled);

[StatelessWorker(1)]
public sealed class OutboxStatusGrain(IServiceProvider services, IOptions<OutboxRelayOptions> options, TimeProvider time)
    : Grain, IOutboxStatusGrain
{
    private static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(1);

    // Resolved by hand: only a cluster-mode silo registers a data source.
    private readonly NpgsqlDataSource? _database = services.GetService<NpgsqlDataSource>();
    private OutboxStatus? _cached;
    private DateTimeOffset _cachedAt;

    public async Task<OutboxStatus> GetLag()
    {
        var settings = options.Value;
        if (_database is null)
        {
            return new OutboxStatus(0, 0, settings.LagAlertSeconds, Healthy: true, settings.RelayEnabled);
        }

        var now = time.GetUtcNow();
        if (_cached is null || now - _cachedAt >= CacheFor)
        {
            var lag = await OutboxLag.Measure(_database, CancellationToken.None);
            var healthy = !settings.RelayEnabled || lag.OldestAgeSeconds <= settings.LagAlertSeconds;
            _cached = new OutboxStatus(lag.Unshipped, lag.OldestAgeSeconds, settings.LagAlertSeconds, healthy, settings.RelayEnabled);
            _cachedAt = now;
        }

        return _cached;
    }
}
