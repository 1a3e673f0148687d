using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace TicketQueue.Grains.DomainEvents.Relay;

/// <summary>
/// Keeps the outbox of a cluster without Kafka bounded: every <see cref="OutboxRelayOptions.PruneInterval"/>
/// it deletes the events recorded longer than <see cref="OutboxRelayOptions.RetainUnshipped"/> ago, which no
/// relay will ever ship. Runs on every such silo; they share the work without waiting on each other.
/// </summary>
public sealed class UnshippedOutboxPruner : BackgroundService
{
    // The oldest unshipped events first (the relay's index), those past the retention deleted. Events are
    // recorded in about the order of their time, so a chunk with younger events in it is the last one.
    // SKIP LOCKED: a silo pruning at the same moment takes the next chunk instead of waiting for this one.
    private const string PruneSql =
        """
        DELETE FROM common.outbox_events
        WHERE id IN (SELECT id FROM common.outbox_events
                     WHERE NOT published
                     ORDER BY seq
                     LIMIT $2
                     FOR UPDATE SKIP LOCKED)
          AND created_at < now() - $1
        """;

    private const int Chunk = 5_000;

    /// <summary>Chunks one pass deletes at most, so a long history is worked off a slice at a time.</summary>
    private const int ChunksPerPass = 20;

    private readonly NpgsqlDataSource? _database;
    private readonly OutboxRelayOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<UnshippedOutboxPruner> _logger;
    private readonly Counter<long> _pruned;

    public UnshippedOutboxPruner(IServiceProvider services, IOptions<OutboxRelayOptions> options, IMeterFactory meters,
        TimeProvider time, ILogger<UnshippedOutboxPruner> logger)
    {
        _database = services.GetService<NpgsqlDataSource>();
        _options = options.Value;
        _time = time;
        _logger = logger;
        _pruned = OutboxLagMonitor.PrunedCounter(meters);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_database is null)
        {
            return;
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var deleted = await PruneOnce(stoppingToken);
                if (deleted > 0)
                {
                    _logger.LogInformation("Deleted {Deleted} unshipped outbox events older than {RetainUnshipped}", deleted, _options.RetainUnshipped);
                }
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // The next pass tries again; nothing is lost by waiting.
                _logger.LogWarning(e, "Deleting old unshipped outbox events failed");
            }

            try
            {
                await Task.Delay(_options.PruneInterval, _time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>One pass: deletes chunk after chunk until one is not full of old events. Returns how many.</summary>
    private async Task<long> PruneOnce(CancellationToken cancellationToken)
    {
        long total = 0;
        for (var chunk = 0; chunk < ChunksPerPass && !cancellationToken.IsCancellationRequested; chunk++)
        {
            await using var prune = _database!.CreateCommand(PruneSql);
            prune.Parameters.Add(new NpgsqlParameter { Value = _options.RetainUnshipped });
            prune.Parameters.Add(new NpgsqlParameter { Value = Chunk });
            var deleted = await prune.ExecuteNonQueryAsync(cancellationToken);
            _pruned.Add(deleted);
            total += deleted;
            if (deleted < Chunk)
            {
                break;
            }
        }

        return total;
    }
}
