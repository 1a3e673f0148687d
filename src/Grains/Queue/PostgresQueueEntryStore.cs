using System.Threading.Channels;
using Npgsql;
using Orleans.Storage;
using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.DomainEvents;

namespace TicketQueue.Grains.Queue;

/// <summary>
/// The cluster's queue record store: one row per user in <c>queue_service.queue_entries</c> and a
/// version per shard in <c>queue_service.queue_shards</c> (init-db.sql).
/// </summary>
/// <remarks>
/// Saves are group-committed twice. Each shard gathers the changes made while its previous save ran
/// (see <see cref="QueueShardGrain"/>); this store then gathers the saves of every shard on the silo
/// that arrive while its previous statement ran, and writes them in one statement, so one commit carries
/// the work of many shards. Within it, a shard's rows are written only if the shard's version moved on
/// from the one its activation loaded; a shard that fails that check gets an
/// <see cref="InconsistentStateException"/> and the others are unaffected. The domain events a save
/// carries go into <c>common.outbox_events</c> in the same statement, so they exist exactly when the
/// records that caused them do.
/// </remarks>
public sealed class PostgresQueueEntryStore : IQueueEntryStore, IAsyncDisposable
{
    /// <summary>Records per statement, at most: a bigger batch waits for the next one.</summary>
    private const int MaxRecordsPerStatement = 20_000;

    private const string SaveSql =
        """
        WITH bumped AS (
            UPDATE queue_service.queue_shards AS q SET version = q.version + 1
            FROM unnest($1::text[], $2::bigint[]) AS t(shard_key, version)
            WHERE q.shard_key = t.shard_key AND q.version = t.version
            RETURNING q.shard_key, q.version
        ), created AS (
            INSERT INTO queue_service.queue_shards (shard_key, version)
            SELECT k, 1 FROM unnest($3::text[]) AS k
            ON CONFLICT (shard_key) DO NOTHING
            RETURNING shard_key, version
        ), saved AS (
            SELECT shard_key, version FROM bumped
            UNION ALL
            SELECT shard_key, version FROM created
        ), upserted AS (
            INSERT INTO queue_service.queue_entries (shard_key, user_id, number, batch_id, flags)
            SELECT t.s, t.u, t.n, t.b, t.f
            FROM unnest($4::text[], $5::uuid[], $6::bigint[], $7::int[], $8::smallint[]) AS t(s, u, n, b, f)
            WHERE t.s IN (SELECT shard_key FROM saved)
            ON CONFLICT (shard_key, user_id) DO UPDATE
                SET number = excluded.number, batch_id = excluded.batch_id, flags = excluded.flags
        ), deleted AS (
            DELETE FROM queue_service.queue_entries AS e
            USING unnest($9::text[], $10::uuid[]) AS d(s, u)
            WHERE e.shard_key = d.s AND e.user_id = d.u AND d.s IN (SELECT shard_key FROM saved)
        ), recorded AS (
            INSERT INTO common.outbox_events (id, aggregate_type, aggregate_id, event_type, payload, created_at)
            SELECT t.id, t.at, t.ai, t.et, t.p, t.c
            FROM unnest($11::text[], $12::uuid[], $13::text[], $14::text[], $15::text[], $16::jsonb[], $17::timestamptz[])
                AS t(s, id, at, ai, et, p, c)
            WHERE t.s IN (SELECT shard_key FROM saved)
            ON CONFLICT (id) DO NOTHING
        )
        SELECT shard_key, version FROM saved
        """;

    private readonly NpgsqlDataSource _database;
    private readonly Channel<PendingSave> _pending = Channel.CreateUnbounded<PendingSave>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;

    public PostgresQueueEntryStore(NpgsqlDataSource database)
    {
        _database = database;
        _writer = Task.Run(WriteLoop);
    }

    public async Task<QueueShardSnapshot> Load(string shardKey, CancellationToken cancellationToken)
    {
        await using var connection = await _database.OpenConnectionAsync(cancellationToken);
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

    public Task<long> Save(string shardKey, long version, IReadOnlyCollection<QueueEntryChange> changes,
        IReadOnlyList<DomainEvent> events, CancellationToken cancellationToken)
    {
        var pending = new PendingSave(shardKey, version, changes, events);
        return _pending.Writer.TryWrite(pending)
            ? pending.Done.Task
            : Task.FromException<long>(new ObjectDisposedException(nameof(PostgresQueueEntryStore)));
    }

    // A statement holds at most one save per shard. Two of the same shard (a deactivating activation's
    // last save still waiting when the next activation saves from the same version) would both match the
    // version check in one UPDATE, which bumps the row once and reports both saved: the later one waits
    // for the next statement, where the check sees the first and refuses it.
    private async Task WriteLoop()
    {
        var reader = _pending.Reader;
        var batch = new List<PendingSave>();
        var shards = new HashSet<string>(StringComparer.Ordinal);
        var waiting = new List<PendingSave>();
        while (waiting.Count > 0 || await reader.WaitToReadAsync())
        {
            var records = 0;
            var carried = waiting;
            waiting = [];
            foreach (var pending in carried)
            {
                Take(pending);
            }

            while (records < MaxRecordsPerStatement && reader.TryRead(out var pending))
            {
                Take(pending);
            }

            await Write(batch);
            batch.Clear();
            shards.Clear();

            void Take(PendingSave pending)
            {
                if (shards.Add(pending.ShardKey))
                {
                    batch.Add(pending);
                    records += pending.Changes.Count;
                }
                else
                {
                    waiting.Add(pending);
                }
            }
        }
    }

    private async Task Write(List<PendingSave> batch)
    {
        Dictionary<string, long> saved;
        try
        {
            saved = await Execute(batch);
        }
        catch (Exception e)
        {
            foreach (var pending in batch)
            {
                pending.Done.TrySetException(e);
            }

            return;
        }

        foreach (var pending in batch)
        {
            if (saved.TryGetValue(pending.ShardKey, out var version))
            {
                pending.Done.TrySetResult(version);
            }
            else
            {
                pending.Done.TrySetException(new InconsistentStateException(
                    $"Queue shard '{pending.ShardKey}' was saved by another activation since version {pending.Version}.",
                    "unknown", pending.Version.ToString()));
            }
        }
    }

    private async Task<Dictionary<string, long>> Execute(List<PendingSave> batch)
    {
        var bumpKeys = new List<string>();
        var bumpVersions = new List<long>();
        var createKeys = new List<string>();
        var (keys, users, numbers, batchIds, flags) = (new List<string>(), new List<Guid>(), new List<long>(), new List<int>(), new List<short>());
        var (removedKeys, removedUsers) = (new List<string>(), new List<Guid>());
        var eventShards = new List<string>();
        var events = new List<DomainEvent>();
        foreach (var pending in batch)
        {
            foreach (var e in pending.Events)
            {
                eventShards.Add(pending.ShardKey);
                events.Add(e);
            }

            if (pending.Version == 0)
            {
                createKeys.Add(pending.ShardKey);
            }
            else
            {
                bumpKeys.Add(pending.ShardKey);
                bumpVersions.Add(pending.Version);
            }

            foreach (var change in pending.Changes)
            {
                if (change.Entry is { } entry)
                {
                    keys.Add(pending.ShardKey);
                    users.Add(change.UserId);
                    numbers.Add(entry.Number);
                    batchIds.Add(entry.BatchId);
                    flags.Add((short)entry.Flags);
                }
                else
                {
                    removedKeys.Add(pending.ShardKey);
                    removedUsers.Add(change.UserId);
                }
            }
        }

        await using var command = _database.CreateCommand(SaveSql);
        foreach (var values in new object[] { bumpKeys, bumpVersions, createKeys, keys, users, numbers, batchIds, flags, removedKeys, removedUsers, eventShards })
        {
            command.Parameters.Add(new NpgsqlParameter { Value = values });
        }

        foreach (var parameter in PostgresOutbox.Parameters(events))
        {
            command.Parameters.Add(parameter);
        }

        var saved = new Dictionary<string, long>(batch.Count, StringComparer.Ordinal);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            saved[reader.GetString(0)] = reader.GetInt64(1);
        }

        return saved;
    }

    public async ValueTask DisposeAsync()
    {
        _pending.Writer.TryComplete();
        await _writer;
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

    private sealed record PendingSave(string ShardKey, long Version, IReadOnlyCollection<QueueEntryChange> Changes, IReadOnlyList<DomainEvent> Events)
    {
        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
