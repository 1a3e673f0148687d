using System.Diagnostics.Metrics;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace TicketQueue.Grains.DomainEvents.Relay;

/// <summary>
/// Ships <c>common.outbox_events</c> to Kafka: each row as one message on the topic of its aggregate type,
/// keyed by the aggregate id, its CloudEvent JSON as the value (CloudEvents Kafka binding, structured mode).
/// A row is marked published only after the broker acknowledged it (idempotent producer, <c>acks=all</c>),
/// so events are delivered at least once: a failure can repeat an event, never lose one.
/// </summary>
/// <remarks>
/// <para>
/// One relay runs in every cluster silo; <see cref="PartitionOwnership"/> makes sure each aggregate is
/// shipped by one of them at a time, so one aggregate's events leave in the order they were recorded.
/// </para>
/// <para>
/// A round ships at most one row per aggregate: the oldest unshipped one. The producer keeps the order of
/// what it sends, but a message that times out leaves a gap that later messages of the same partition
/// may fill first (librdkafka "message timeout considerations"); sending an aggregate's next event only
/// once the previous one is acknowledged means a retry can repeat an event but never overtake it. Our
/// aggregates (a place in line, a reservation, a payment) have a handful of events each, so this costs
/// little throughput.
/// </para>
/// <para>
/// An event Kafka refuses while others of the round get through (too large, a topic it will not take) is
/// the event's own problem: its aggregate is parked for a back-off of its own (<see cref="ParkedAggregates"/>)
/// and the rest keep shipping. Only a round in which nothing got through counts as Kafka failing, and then
/// the whole relay backs off.
/// </para>
/// </remarks>
public sealed class OutboxRelay : BackgroundService
{
    private const string ReadSql =
        """
        SELECT id, aggregate_type, aggregate_id, payload::text
        FROM common.outbox_events
        WHERE NOT published AND abs(hashtext(aggregate_id)::bigint) % $1 = ANY($2)
          AND NOT EXISTS (SELECT 1 FROM unnest($4::text[], $5::text[]) AS held(type, id)
                          WHERE held.type = aggregate_type AND held.id = aggregate_id)
        ORDER BY seq
        LIMIT $3
        """;

    // Published rows older than the retention, of the partitions this relay owns, a chunk at a time.
    private const string PruneSql =
        """
        DELETE FROM common.outbox_events
        WHERE id IN (SELECT id FROM common.outbox_events
                     WHERE published AND published_at < now() - $1
                       AND abs(hashtext(aggregate_id)::bigint) % $2 = ANY($3)
                     LIMIT $4)
        """;

    private const int PruneChunk = 5_000;

    /// <summary>Chunks one prune deletes at most, so a long unpruned history never holds up shipping.</summary>
    private const int PruneChunksPerPass = 4;

    private const string MarkSql = "UPDATE common.outbox_events SET published = true, published_at = now() WHERE id = ANY($1) AND NOT published";

    /// <summary>How long a stopping relay still waits for acknowledgements of what it already sent.</summary>
    private static readonly TimeSpan ShutdownGrace = TimeSpan.FromSeconds(5);

    /// <summary>Aggregates parked at once, at most; beyond it a refusal fails the round like an outage.</summary>
    private const int MaxParked = 1_000;

    private static readonly byte[] ContentType = Encoding.UTF8.GetBytes(CloudEventEnvelope.ContentType);

    private readonly NpgsqlDataSource? _database;
    private readonly OutboxRelayOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<OutboxRelay> _logger;
    private readonly Counter<long> _shipped;
    private readonly Counter<long> _failedRounds;
    private readonly Counter<long> _pruned;
    private readonly ParkedAggregates _parked;
    private volatile IReadOnlyList<int> _owned = [];

    public OutboxRelay(IServiceProvider services, IOptions<OutboxRelayOptions> options, IMeterFactory meters,
        TimeProvider time, ILogger<OutboxRelay> logger)
    {
        _database = services.GetService<NpgsqlDataSource>();
        _options = options.Value;
        _time = time;
        _logger = logger;
        _parked = new ParkedAggregates(_options.InitialBackoff, _options.MaxBackoff, MaxParked);

        var meter = meters.Create(OutboxLagMonitor.MeterName);
        _shipped = meter.CreateCounter<long>("ticketqueue.outbox.shipped", unit: "{event}",
            description: "Outbox events acknowledged by Kafka and marked published");
        _failedRounds = meter.CreateCounter<long>("ticketqueue.outbox.failed_rounds", unit: "{round}",
            description: "Relay rounds that failed and were retried after a back-off");
        _pruned = OutboxLagMonitor.PrunedCounter(meters);
        meter.CreateObservableGauge("ticketqueue.outbox.owned_partitions", () => _owned.Count, unit: "{partition}",
            description: "Outbox partitions this relay ships");
        meter.CreateObservableGauge("ticketqueue.outbox.parked_aggregates", () => _parked.Count, unit: "{aggregate}",
            description: "Aggregates whose oldest event Kafka refused, waiting out a back-off of their own");
    }

    /// <summary>The outbox partitions this relay ships now.</summary>
    public IReadOnlyList<int> OwnedPartitions => _owned;

    /// <summary>
    /// Raised after partitions are taken and before they are given up, so the intervals it reports contain
    /// the real ones. (When the ownership session breaks, PostgreSQL frees the locks before the relay notices.)
    /// </summary>
    public event Action<OutboxOwnershipChange>? OwnershipChanged;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_database is null)
        {
            _logger.LogWarning("Kafka is configured but this silo has no PostgreSQL outbox (embedded mode); the outbox relay stays off");
            return;
        }

        _logger.LogInformation("Outbox relay shipping to {BootstrapServers}, {Partitions} partitions", _options.Kafka.BootstrapServers, _options.Partitions);
        await using var ownership = new PartitionOwnership(_database, _options.Partitions, _logger, change =>
        {
            _owned = change.Owned;
            if (change.Released.Count > 0)
            {
                _parked.Clear();
            }

            OwnershipChanged?.Invoke(change);
        });
        IProducer<byte[], byte[]>? producer = null;
        try
        {
            var failures = 0;
            var nextRebalance = DateTimeOffset.MinValue;
            var nextPrune = DateTimeOffset.MinValue;
            while (!stoppingToken.IsCancellationRequested)
            {
                TimeSpan wait;
                try
                {
                    if (_time.GetUtcNow() >= nextRebalance)
                    {
                        await ownership.Rebalance(stoppingToken);
                        nextRebalance = _time.GetUtcNow() + _options.OwnershipInterval;
                    }

                    if (ownership.Owned.Count == 0)
                    {
                        wait = nextRebalance - _time.GetUtcNow();
                    }
                    else
                    {
                        producer ??= BuildProducer();
                        var round = await ShipRound(producer, ownership, stoppingToken);
                        if (round.ProducerBroken)
                        {
                            producer.Dispose();
                            producer = null;
                        }

                        if (round.Failed)
                        {
                            failures++;
                            wait = Backoff(failures);
                        }
                        else
                        {
                            failures = 0;
                            wait = round.MoreWaiting ? TimeSpan.Zero : _options.PollInterval;
                        }

                        if (_time.GetUtcNow() >= nextPrune)
                        {
                            // Set first: a prune that fails is not retried every round.
                            nextPrune = _time.GetUtcNow() + _options.PruneInterval;
                            if (await Prune(ownership, stoppingToken))
                            {
                                // More is past the retention (a first prune after a long time): go on soon,
                                // between rounds, rather than all at once.
                                nextPrune = _time.GetUtcNow() + _options.PollInterval;
                            }
                        }
                    }
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    // Most likely PostgreSQL: the ownership session may be gone, and its locks with it.
                    await ownership.Drop();
                    if (stoppingToken.IsCancellationRequested)
                    {
                        _logger.LogWarning(e, "Outbox relay failed while stopping; what it sent and did not mark goes again from the next owner");
                        return;
                    }

                    failures++;
                    _failedRounds.Add(1);
                    wait = Backoff(failures);
                    _logger.LogWarning(e, "Outbox relay round failed; giving up its partitions and retrying in {Backoff}", wait);
                    nextRebalance = DateTimeOffset.MinValue;
                }

                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, _time, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            producer?.Dispose();
        }
    }

    private async Task<Round> ShipRound(IProducer<byte[], byte[]> producer, PartitionOwnership ownership, CancellationToken stoppingToken)
    {
        var rows = await ReadBatch(ownership, stoppingToken);
        if (rows.Count == 0)
        {
            return new Round(Failed: false, MoreWaiting: false, ProducerBroken: false);
        }

        var aggregates = new HashSet<(string, string)>();
        var toShip = rows.Where(r => aggregates.Add((r.AggregateType, r.AggregateId))).ToList();
        var deliveries = new List<(OutboxRow Row, Task<DeliveryReport<byte[], byte[]>> Report)>(toShip.Count);
        var refused = new List<(OutboxRow Row, Error Error)>();
        foreach (var row in toShip)
        {
            if (stoppingToken.IsCancellationRequested)
            {
                break;
            }

            try
            {
                deliveries.Add((row, Produce(producer, row)));
            }
            catch (ProduceException<byte[], byte[]> e)
            {
                // Refused before it was sent (e.g. larger than message.max.bytes): the message, not Kafka.
                refused.Add((row, e.Error));
            }
        }

        var all = Task.WhenAll(deliveries.Select(d => d.Report));
        try
        {
            await all.WaitAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            try
            {
                await all.WaitAsync(ShutdownGrace, CancellationToken.None);
            }
            catch (TimeoutException)
            {
                // Not acknowledged in time: these rows go again after the restart (a duplicate at most).
            }
        }

        var acknowledged = deliveries.Where(d => d.Report.IsCompletedSuccessfully && Acknowledged(d.Report.Result)).Select(d => d.Row).ToList();
        if (acknowledged.Count > 0)
        {
            // Not cancelled by stopping: what the broker has acknowledged is worth recording.
            await using var mark = new NpgsqlCommand(MarkSql, ownership.Session);
            mark.Parameters.Add(new NpgsqlParameter { Value = acknowledged.Select(r => r.Id).ToArray() });
            await mark.ExecuteNonQueryAsync(CancellationToken.None);
            _shipped.Add(acknowledged.Count);
            foreach (var row in acknowledged)
            {
                _parked.Release(row.AggregateType, row.AggregateId);
            }
        }

        var unacknowledged = deliveries.Where(d => d.Report.IsCompletedSuccessfully && !Acknowledged(d.Report.Result))
            .Select(d => (d.Row, d.Report.Result.Error)).ToList();

        // Nothing sent got through, and not because a broker said no to those events: Kafka itself is failing
        // (down, unreachable), and the whole relay backs off. Otherwise each refused event is its own, and
        // only its aggregate waits; in particular one a broker refuses (its topic's ACL, its size) when it
        // is the only event of a quiet round.
        var lost = unacknowledged.Where(u => !RefusedByBroker(u.Error)).ToList();
        var kafkaFailing = acknowledged.Count == 0 && lost.Count > 0;
        var notParked = kafkaFailing ? lost.Count : 0;
        foreach (var (row, error) in kafkaFailing ? refused.Concat(unacknowledged.Except(lost)) : refused.Concat(unacknowledged))
        {
            if (_parked.IsFull)
            {
                notParked++;
                continue;
            }

            var wait = _parked.Park(row.AggregateType, row.AggregateId, _time.GetUtcNow());
            _logger.LogError("Outbox relay: Kafka refused event {EventId} of {AggregateType} {AggregateId} ({Reason}); that aggregate's events wait {Backoff}, the others go on",
                row.Id, row.AggregateType, row.AggregateId, error.Reason, wait);
        }

        if (notParked > 0)
        {
            _failedRounds.Add(1);
            _logger.LogWarning("Outbox relay: {Failed} of {Produced} events were not acknowledged ({Reason}); they go again after a back-off",
                notParked, toShip.Count, unacknowledged.Concat(refused).First().Error.Reason);
        }

        return new Round(
            Failed: notParked > 0,
            MoreWaiting: rows.Count == _options.BatchSize || toShip.Count < rows.Count,
            ProducerBroken: unacknowledged.Concat(refused).Any(f => f.Error.IsFatal));
    }

    /// <summary>A broker's answer about the event or its topic, not a sign that Kafka is failing.</summary>
    private static bool RefusedByBroker(Error error) => error.Code is Confluent.Kafka.ErrorCode.MsgSizeTooLarge
        or Confluent.Kafka.ErrorCode.TopicAuthorizationFailed or Confluent.Kafka.ErrorCode.UnknownTopicOrPart
        or Confluent.Kafka.ErrorCode.InvalidMsg or Confluent.Kafka.ErrorCode.InvalidMsgSize or Confluent.Kafka.ErrorCode.RecordListTooLarge
        or Confluent.Kafka.ErrorCode.PolicyViolation or Confluent.Kafka.ErrorCode.InvalidRecord or Confluent.Kafka.ErrorCode.TopicException
        or Confluent.Kafka.ErrorCode.Local_UnknownTopic;

    /// <summary>
    /// Deletes what Kafka has had for longer than <see cref="OutboxRelayOptions.RetainPublished"/>, a few
    /// chunks at a time; unshipped rows stay. True when there is more to delete.
    /// </summary>
    private async Task<bool> Prune(PartitionOwnership ownership, CancellationToken cancellationToken)
    {
        var owned = ownership.Owned.ToArray();
        int deleted;
        var chunks = 0;
        do
        {
            await using var prune = new NpgsqlCommand(PruneSql, ownership.Session);
            prune.Parameters.Add(new NpgsqlParameter { Value = _options.RetainPublished });
            prune.Parameters.Add(new NpgsqlParameter { Value = _options.Partitions });
            prune.Parameters.Add(new NpgsqlParameter { Value = owned });
            prune.Parameters.Add(new NpgsqlParameter { Value = PruneChunk });
            deleted = await prune.ExecuteNonQueryAsync(cancellationToken);
            _pruned.Add(deleted);
        }
        while (deleted == PruneChunk && ++chunks < PruneChunksPerPass && !cancellationToken.IsCancellationRequested);

        return deleted == PruneChunk;
    }

    private async Task<List<OutboxRow>> ReadBatch(PartitionOwnership ownership, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(ReadSql, ownership.Session);
        command.Parameters.Add(new NpgsqlParameter { Value = _options.Partitions });
        command.Parameters.Add(new NpgsqlParameter { Value = ownership.Owned.ToArray() });
        command.Parameters.Add(new NpgsqlParameter { Value = _options.BatchSize });
        var (heldTypes, heldIds) = _parked.HeldAt(_time.GetUtcNow());
        command.Parameters.Add(new NpgsqlParameter { Value = heldTypes });
        command.Parameters.Add(new NpgsqlParameter { Value = heldIds });
        var rows = new List<OutboxRow>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new OutboxRow(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
        }

        return rows;
    }

    private Task<DeliveryReport<byte[], byte[]>> Produce(IProducer<byte[], byte[]> producer, OutboxRow row)
    {
        var delivered = new TaskCompletionSource<DeliveryReport<byte[], byte[]>>(TaskCreationOptions.RunContinuationsAsynchronously);
        var message = new Message<byte[], byte[]>
        {
            Key = Encoding.UTF8.GetBytes(row.AggregateId),
            Value = Encoding.UTF8.GetBytes(row.Payload),
            Headers = new Headers { { "content-type", ContentType } },
        };
        // Produce (not ProduceAsync) enqueues before it returns, so messages leave in the order of the loop.
        producer.Produce(_options.TopicFor(row.AggregateType), message, report => delivered.TrySetResult(report));
        return delivered.Task;
    }

    private static bool Acknowledged(DeliveryReport<byte[], byte[]> report) =>
        !report.Error.IsError && report.Status == PersistenceStatus.Persisted;

    private IProducer<byte[], byte[]> BuildProducer()
    {
        var config = _options.ProducerConfig();
        var lastWarning = (Code: Confluent.Kafka.ErrorCode.NoError, At: DateTimeOffset.MinValue);
        return new ProducerBuilder<byte[], byte[]>(config)
            .SetErrorHandler((_, error) =>
            {
                // librdkafka retries by itself and reports every failed attempt (during an outage, several a
                // second): the first of a kind is a warning, repeats within a minute are debug noise.
                var now = _time.GetUtcNow();
                var repeat = !error.IsFatal && error.Code == lastWarning.Code && now - lastWarning.At < TimeSpan.FromMinutes(1);
                if (!repeat)
                {
                    lastWarning = (error.Code, now);
                }

                _logger.Log(error.IsFatal ? LogLevel.Error : repeat ? LogLevel.Debug : LogLevel.Warning,
                    "Kafka producer: {Reason} ({Code})", error.Reason, error.Code);
            })
            .SetLogHandler((_, log) => _logger.Log(LevelOf(log.Level), "librdkafka {Facility}: {Message}", log.Facility, log.Message))
            .Build();
    }

    // librdkafka's errors also reach the error handler above, so its error-level log lines are detail.
    private static LogLevel LevelOf(SyslogLevel level) => level switch
    {
        <= SyslogLevel.Critical => LogLevel.Error,
        SyslogLevel.Warning => LogLevel.Warning,
        _ => LogLevel.Debug,
    };

    /// <summary>Doubling from <see cref="OutboxRelayOptions.InitialBackoff"/> up to <see cref="OutboxRelayOptions.MaxBackoff"/>.</summary>
    private TimeSpan Backoff(int failures) => DoublingBackoff.After(failures, _options.InitialBackoff, _options.MaxBackoff);

    private sealed record OutboxRow(Guid Id, string AggregateType, string AggregateId, string Payload);

    private readonly record struct Round(bool Failed, bool MoreWaiting, bool ProducerBroken);
}
