using Npgsql;

namespace TicketQueue.Grains.DomainEvents.Relay;

/// <summary>How far the relay is behind: events recorded but not yet acknowledged by Kafka, and the age of the oldest.</summary>
public sealed record OutboxLag(long Unshipped, double OldestAgeSeconds)
{
    public static readonly OutboxLag None = new(0, 0);

    /// <summary>Measures the lag of the outbox in <paramref name="database"/>.</summary>
    /// <remarks>
    /// The age is measured from the event's own time (<c>created_at</c> is when it happened), by the
    /// database's clock. Counting scans the unpublished rows through their partial index, so the cost grows
    /// with the backlog, not with the table.
    /// </remarks>
    public static async Task<OutboxLag> Measure(NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand(
            """
            SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8
            FROM common.outbox_events
            WHERE NOT published
            """);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var unshipped = reader.GetInt64(0);
        // An event stamped a little ahead of the database's clock is not negative lag.
        var oldestAge = unshipped == 0 ? 0 : Math.Max(0, reader.GetDouble(1));
        return new OutboxLag(unshipped, oldestAge);
    }
}
