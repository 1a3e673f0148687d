using Npgsql;

namespace TicketQueue.JoinBenchmark;

/// <summary>
/// The benchmark's own look at the PostgreSQL database the silo writes to: what server it is, and what
/// the measured event's queue shards left in <c>queue_service</c>. A separate connection pool from the silo's.
/// </summary>
internal sealed class BenchmarkDatabase(NpgsqlDataSource database) : IAsyncDisposable
{
    /// <summary>Connects, and fails with a clear message when init-db.sql was not applied.</summary>
    public static async Task<BenchmarkDatabase> Open(string connectionString)
    {
        var database = new BenchmarkDatabase(NpgsqlDataSource.Create(connectionString));
        var tables = await database.Scalar<long>(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'queue_service' AND tablename IN ('queue_shards', 'queue_entries')");
        if (tables != 2)
        {
            await database.DisposeAsync();
            throw new InvalidOperationException("The database has no queue_service tables: apply init-db.sql first (psql -f init-db.sql).");
        }

        return database;
    }

    /// <summary>Server version, where it is, and the settings that decide what a commit costs.</summary>
    public async Task<string> Describe()
    {
        var settings = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        var version = await Scalar<string>("SHOW server_version");
        var fsync = await Scalar<string>("SHOW fsync");
        var synchronousCommit = await Scalar<string>("SHOW synchronous_commit");
        return $"PostgreSQL {version} at {settings.Host}:{settings.Port}, database {settings.Database} " +
            $"(fsync {fsync}, synchronous_commit {synchronousCommit})";
    }

    /// <summary>Each user's stored ticket number for one event, from every shard of that event.</summary>
    public async Task<List<(Guid UserId, long Number)>> QueueEntries(string eventId)
    {
        await using var command = database.CreateCommand("SELECT user_id, number FROM queue_service.queue_entries WHERE shard_key LIKE $1");
        command.Parameters.Add(new NpgsqlParameter { Value = ShardKeyPattern(eventId) });
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(Guid, long)>();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetGuid(0), reader.GetInt64(1)));
        }

        return rows;
    }

    /// <summary>
    /// How many transactions the event's shards committed (each save moves its shard's version on by one),
    /// how many times its queue grain wrote its state (the version of its grain_state row, keyed by the
    /// event id), and the size of the event's rows as PostgreSQL measures a row value.
    /// </summary>
    public async Task<(long ShardSaves, long QueueWrites, long Rows, long RowBytes)> EventFootprint(string eventId)
    {
        var pattern = ShardKeyPattern(eventId);
        var shardSaves = await Scalar<long>("SELECT COALESCE(sum(version), 0)::bigint FROM queue_service.queue_shards WHERE shard_key LIKE $1", pattern);
        var queueWrites = await Scalar<long>("SELECT COALESCE(sum(version), 0)::bigint FROM event_service.grain_state WHERE grain_id_ext = $1", eventId);
        var rows = await Scalar<long>("SELECT count(*) FROM queue_service.queue_entries WHERE shard_key LIKE $1", pattern);
        var rowBytes = await Scalar<long>(
            "SELECT COALESCE(sum(pg_column_size(e.*)), 0)::bigint FROM queue_service.queue_entries e WHERE e.shard_key LIKE $1", pattern);
        return (shardSaves, queueWrites, rows, rowBytes);
    }

    /// <summary>The whole queue_entries table (every run and warm-up so far): rows, heap bytes, index bytes.</summary>
    public async Task<(long Rows, long TableBytes, long IndexBytes)> TableFootprint() =>
        (await Scalar<long>("SELECT count(*) FROM queue_service.queue_entries"),
         await Scalar<long>("SELECT pg_table_size('queue_service.queue_entries')"),
         await Scalar<long>("SELECT pg_indexes_size('queue_service.queue_entries')"));

    public ValueTask DisposeAsync() => database.DisposeAsync();

    // Every shard of the event: "{eventId}#{shard}", with any LIKE wildcard in the id taken literally.
    private static string ShardKeyPattern(string eventId) =>
        eventId.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal)
            .Replace("_", @"\_", StringComparison.Ordinal) + "#%";

    private async Task<T> Scalar<T>(string sql, params object[] values)
    {
        await using var command = database.CreateCommand(sql);
        foreach (var value in values)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = value });
        }

        return (T)(await command.ExecuteScalarAsync() ?? throw new InvalidOperationException($"No value from: {sql}"));
    }
}
