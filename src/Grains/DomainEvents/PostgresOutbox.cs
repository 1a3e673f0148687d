using Npgsql;
using TicketQueue.Grains.Abstractions.DomainEvents;

namespace TicketQueue.Grains.DomainEvents;

/// <summary>The cluster's outbox: rows in <c>common.outbox_events</c>, kept once by event id.</summary>
public sealed class PostgresOutbox(NpgsqlDataSource database) : IDomainEventOutbox
{
    public const string InsertSql =
        """
        INSERT INTO common.outbox_events (id, aggregate_type, aggregate_id, event_type, payload, created_at)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::timestamptz[])
        ON CONFLICT (id) DO NOTHING
        """;

    public async Task Append(IReadOnlyList<DomainEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }

        await using var command = database.CreateCommand(InsertSql);
        foreach (var parameter in Parameters(events))
        {
            command.Parameters.Add(parameter);
        }

        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>The six array parameters of <see cref="InsertSql"/>, in order; the queue store's statement reuses them.</summary>
    public static IEnumerable<NpgsqlParameter> Parameters(IReadOnlyList<DomainEvent> events)
    {
        yield return new NpgsqlParameter { Value = events.Select(e => e.EventId).ToArray() };
        yield return new NpgsqlParameter { Value = events.Select(e => e.AggregateType).ToArray() };
        yield return new NpgsqlParameter { Value = events.Select(e => e.AggregateId).ToArray() };
        yield return new NpgsqlParameter { Value = events.Select(e => e.Type).ToArray() };
        yield return new NpgsqlParameter { Value = events.Select(e => System.Text.Encoding.UTF8.GetString(CloudEventEnvelope.Encode(e))).ToArray() };
        yield return new NpgsqlParameter { Value = events.Select(e => e.OccurredAt.UtcDateTime).ToArray() };
    }
}
