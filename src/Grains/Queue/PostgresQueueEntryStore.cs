using Npgsql;
using Orleans.Storage;

namespace TicketQueue.Grains.Queue;

/// <summary>
/// The cluster's queue record store: one row per user in <c>queue_service.queue_entries</c> and a
/// version per shard in <c>queue_service.queue_shards</c> (init-db.sql). A save is one transaction that
/// bumps the version only if it is still the one this activation loaded, then upserts and deletes the
/// changed rows from arrays: one round trip for the statements, one for the commit.
/// </summary>
public sealed class PostgresQueueEntryStore(NpgsqlDataSource database) : IQueueEntryStore
{
    public async Task<QueueShardSnapshot> Load(string shardKey, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                Command("SELECT version FROM queue_service.queue_shards WHERE shard_key = $1", shardKey),
                Command("SELECT user_id, number, batch_id, flags FROM queue_service.queue_entries WHERE shard_key = $1", shardKey),
            },
        };
        await using var reader = await batch.ExecuteReaderAsync(cancellationToken);
        var version = await reader.ReadAsync(cancellationToken) ? reader.GetInt64(0) : 0;
        await reader.NextResultAsync(cancellationToken);
        var entries = new Dictionary<Guid, QueueEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            entries[reader.GetGuid(0)] = new QueueEntry
            {
                Number = reader.GetInt64(1),
                BatchId = reader.GetInt32(2),
                Flags = (QueueEntryFlags)reader.GetInt16(3),
            };
        }

        return new QueueShardSnapshot(version, entries);
    }

    public async Task<long> Save(string shardKey, long version, IReadOnlyCollection<QueueEntryChange> changes, CancellationToken cancellationToken)
    {
        var kept = changes.Where(c => c.Entry is not null).ToList();
        var removed = changes.Where(c => c.Entry is null).Select(c => c.UserId).ToArray();

        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using var batch = new NpgsqlBatch(connection, transaction);
        batch.BatchCommands.Add(version == 0
            ? Command("INSERT INTO queue_service.queue_shards (shard_key, version) VALUES ($1, 1) ON CONFLICT (shard_key) DO NOTHING RETURNING version", shardKey)
            : Command("UPDATE queue_service.queue_shards SET version = version + 1 WHERE shard_key = $1 AND version = $2 RETURNING version", shardKey, version));
        if (kept.Count > 0)
        {
            batch.BatchCommands.Add(Command(
                """
                INSERT INTO queue_service.queue_entries (shard_key, user_id, number, batch_id, flags)
                SELECT $1, u, n, b, f FROM unnest($2::uuid[], $3::bigint[], $4::int[], $5::smallint[]) AS t(u, n, b, f)
                ON CONFLICT (shard_key, user_id) DO UPDATE
                    SET number = excluded.number, batch_id = excluded.batch_id, flags = excluded.flags
                """,
                shardKey,
                kept.Select(c => c.UserId).ToArray(),
                kept.Select(c => c.Entry!.Value.Number).ToArray(),
                kept.Select(c => c.Entry!.Value.BatchId).ToArray(),
                kept.Select(c => (short)c.Entry!.Value.Flags).ToArray()));
        }

        if (removed.Length > 0)
        {
            batch.BatchCommands.Add(Command(
                "DELETE FROM queue_service.queue_entries WHERE shard_key = $1 AND user_id = ANY($2)", shardKey, removed));
        }

        long? saved;
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            saved = await reader.ReadAsync(cancellationToken) ? reader.GetInt64(0) : null;
        }

        if (saved is null)
        {
            await transaction.RollbackAsync(cancellationToken);
            throw new InconsistentStateException(
                $"Queue shard '{shardKey}' was saved by another activation since version {version}.", "unknown", version.ToString());
        }

        await transaction.CommitAsync(cancellationToken);
        return saved.Value;
    }

    private static NpgsqlBatchCommand Command(string sql, params object[] values)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return command;
    }
}
