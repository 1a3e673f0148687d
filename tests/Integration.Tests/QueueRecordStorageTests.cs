using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Orleans.Storage;
using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.Abstractions.Events;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Queue;
using TicketQueue.Integration.Tests.Infrastructure;

namespace TicketQueue.Integration.Tests;

/// <summary>
/// Places in line in PostgreSQL: the row store the queue shards save to, and the queue as a whole
/// surviving the loss of every activation.
/// </summary>
[Collection(DatabaseCollection.Name)]
public sealed class QueueRecordStorageTests(DatabaseFixture db)
{
    private IQueueEntryStore Store => db.SiloServices.GetRequiredService<IQueueEntryStore>();

    private static string NewShard() => $"store-{Guid.NewGuid():N}#7";

    [Fact]
    public void The_cluster_silo_saves_queue_records_in_PostgreSQL()
    {
        Assert.IsType<PostgresQueueEntryStore>(Store);
    }

    [Fact]
    public async Task Saved_changes_load_back_and_removals_delete_rows()
    {
        var shard = NewShard();
        var (alice, bob) = (Guid.NewGuid(), Guid.NewGuid());
        var version = await Store.Save(shard, 0, [
            new(alice, new QueueEntry { Number = 1 }),
            new(bob, new QueueEntry { Number = 2, Flags = QueueEntryFlags.PreQueue }),
        ], [], TestContext.Current.CancellationToken);
        version = await Store.Save(shard, version, [
            new(alice, new QueueEntry { Number = 1, BatchId = 3, Flags = QueueEntryFlags.Claimed | QueueEntryFlags.Finished }),
            new(bob, null),
        ], [], TestContext.Current.CancellationToken);

        var loaded = await Store.Load(shard, TestContext.Current.CancellationToken);

        Assert.Equal(version, loaded.Version);
        var entry = Assert.Single(loaded.Entries);
        Assert.Equal(alice, entry.Key);
        Assert.Equal(1, entry.Value.Number);
        Assert.Equal(3, entry.Value.BatchId);
        Assert.Equal(QueueEntryFlags.Claimed | QueueEntryFlags.Finished, entry.Value.Flags);
    }

    [Fact]
    public async Task A_save_from_a_stale_version_is_rejected_and_writes_nothing()
    {
        var shard = NewShard();
        var first = await Store.Save(shard, 0, [new(Guid.NewGuid(), new QueueEntry { Number = 1 })], [], TestContext.Current.CancellationToken);
        await Store.Save(shard, first, [new(Guid.NewGuid(), new QueueEntry { Number = 2 })], [], TestContext.Current.CancellationToken);

        var intruder = Guid.NewGuid();
        // Each stale save carries the event of its change: the outbox must not get it either.
        var staleEvents = new[] { IntruderJoined(shard, intruder), IntruderJoined(shard, intruder) };
        await Assert.ThrowsAsync<InconsistentStateException>(() =>
            Store.Save(shard, first, [new(intruder, new QueueEntry { Number = 99 })], [staleEvents[0]], TestContext.Current.CancellationToken));
        await Assert.ThrowsAsync<InconsistentStateException>(() =>
            Store.Save(shard, 0, [new(intruder, new QueueEntry { Number = 99 })], [staleEvents[1]], TestContext.Current.CancellationToken));

        var loaded = await Store.Load(shard, TestContext.Current.CancellationToken);
        Assert.Equal(2, loaded.Entries.Count);
        Assert.DoesNotContain(intruder, loaded.Entries.Keys);
        await using var outbox = db.SiloServices.GetRequiredService<NpgsqlDataSource>().CreateCommand("SELECT count(*) FROM common.outbox_events WHERE id = ANY($1)");
        outbox.Parameters.Add(new NpgsqlParameter { Value = staleEvents.Select(e => e.EventId).ToArray() });
        Assert.Equal(0L, await outbox.ExecuteScalarAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Saves_of_several_shards_sent_together_fail_or_commit_each_on_its_own()
    {
        var (fresh, stale) = (NewShard(), NewShard());
        var staleVersion = await Store.Save(stale, 0, [new(Guid.NewGuid(), new QueueEntry { Number = 1 })], [], TestContext.Current.CancellationToken);
        await Store.Save(stale, staleVersion, [new(Guid.NewGuid(), new QueueEntry { Number = 2 })], [], TestContext.Current.CancellationToken);
        var (freshUser, staleUser) = (Guid.NewGuid(), Guid.NewGuid());
        var (freshEvent, staleEvent) = (IntruderJoined(fresh, freshUser), IntruderJoined(stale, staleUser));

        // Sent at once, the store writes them in one statement: the stale one must not take the other down.
        var good = Store.Save(fresh, 0, [new(freshUser, new QueueEntry { Number = 7 })], [freshEvent], TestContext.Current.CancellationToken);
        var bad = Store.Save(stale, staleVersion, [new(staleUser, new QueueEntry { Number = 8 })], [staleEvent], TestContext.Current.CancellationToken);

        Assert.Equal(1, await good);
        await Assert.ThrowsAsync<InconsistentStateException>(() => bad);
        Assert.Contains(freshUser, (await Store.Load(fresh, TestContext.Current.CancellationToken)).Entries.Keys);
        Assert.DoesNotContain(staleUser, (await Store.Load(stale, TestContext.Current.CancellationToken)).Entries.Keys);
        await using var outbox = db.SiloServices.GetRequiredService<NpgsqlDataSource>().CreateCommand("SELECT id FROM common.outbox_events WHERE id = ANY($1)");
        outbox.Parameters.Add(new NpgsqlParameter { Value = new[] { freshEvent.EventId, staleEvent.EventId } });
        await using var reader = await outbox.ExecuteReaderAsync(TestContext.Current.CancellationToken);
        var recorded = new List<Guid>();
        while (await reader.ReadAsync(TestContext.Current.CancellationToken))
        {
            recorded.Add(reader.GetGuid(0));
        }

        Assert.Equal([freshEvent.EventId], recorded);
    }

    [Fact]
    public async Task Two_saves_of_one_shard_from_the_same_version_never_both_succeed_even_in_one_statement()
    {
        var ct = TestContext.Current.CancellationToken;
        var (blocker, shard) = (NewShard(), NewShard());
        var blockerVersion = await Store.Save(blocker, 0, [new(Guid.NewGuid(), new QueueEntry { Number = 1 })], [], ct);
        var version = await Store.Save(shard, 0, [new(Guid.NewGuid(), new QueueEntry { Number = 1 })], [], ct);

        // Another transaction holds the blocker's row, so the store's next statement waits on it while the
        // two saves of the shard queue up behind it and would be written together.
        var database = db.SiloServices.GetRequiredService<NpgsqlDataSource>();
        await using var connection = await database.OpenConnectionAsync(ct);
        await using var transaction = await connection.BeginTransactionAsync(ct);
        await using (var lockRow = new NpgsqlCommand("SELECT 1 FROM queue_service.queue_shards WHERE shard_key = $1 FOR UPDATE", connection, transaction))
        {
            lockRow.Parameters.Add(new NpgsqlParameter { Value = blocker });
            await lockRow.ExecuteScalarAsync(ct);
        }

        var waiting = Store.Save(blocker, blockerVersion, [new(Guid.NewGuid(), new QueueEntry { Number = 2 })], [], ct);
        await Task.Delay(200, ct);
        var (stale, fresh) = (Guid.NewGuid(), Guid.NewGuid());
        // A deactivating activation's last save, and the next activation's first, from the same version.
        var first = Store.Save(shard, version, [new(stale, new QueueEntry { Number = 2 })], [], ct);
        var second = Store.Save(shard, version, [new(fresh, new QueueEntry { Number = 3 })], [], ct);
        await transaction.RollbackAsync(ct);
        await waiting;

        // Before, one UPDATE matched the version for both, bumped it once and reported both saved.
        Assert.Equal(version + 1, await first);
        await Assert.ThrowsAsync<InconsistentStateException>(() => second);
        var loaded = await Store.Load(shard, ct);
        Assert.Equal(version + 1, loaded.Version);
        Assert.Contains(stale, loaded.Entries.Keys);
        Assert.DoesNotContain(fresh, loaded.Entries.Keys);
    }

    private static QueueJoined IntruderJoined(string shard, Guid user) => new()
    {
        EventId = Guid.NewGuid(), OccurredAt = DateTimeOffset.UtcNow, TicketedEventId = shard[..shard.LastIndexOf('#')], UserId = user,
        Number = 99, PreQueue = false,
    };

    [Fact]
    public async Task Places_in_line_survive_every_activation_being_lost()
    {
        var eventId = await CreateEvent();
        var users = Enumerable.Range(0, 200).Select(_ => Guid.NewGuid()).ToList();
        var joined = await Task.WhenAll(users.Select(u => QueueShards.For(db.Grains, eventId, u).Join(u)));

        await db.DeactivateAll();

        foreach (var (user, status) in users.Zip(joined))
        {
            var now = await QueueShards.For(db.Grains, eventId, user).GetStatus(user);
            Assert.NotNull(now);
            Assert.Equal(status.Place, now.Place);
        }

        Assert.Equal(Enumerable.Range(1, 200).Select(n => (long)n), joined.Select(s => s.Place.Number).Order());
        Assert.Equal(200, await CountRows(eventId));

        // The queue grain starts above its last reserved block, so a new join never reuses a number.
        var late = Guid.NewGuid();
        var lateStatus = await QueueShards.For(db.Grains, eventId, late).Join(late);
        Assert.True(lateStatus.Place.Number > 200);
    }

    [Fact]
    public async Task Each_join_is_recorded_in_the_outbox_by_the_statement_that_saves_its_row()
    {
        var eventId = await CreateEvent();
        var users = Enumerable.Range(0, 50).Select(_ => Guid.NewGuid()).ToList();
        await Task.WhenAll(users.Select(u => QueueShards.For(db.Grains, eventId, u).Join(u)));

        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT aggregate_id, event_type, payload::text FROM common.outbox_events WHERE aggregate_type = 'queue' AND aggregate_id LIKE $1", connection);
        command.Parameters.AddWithValue(eventId + "/%");
        var rows = new List<(string AggregateId, string Type, string Payload)>();
        await using (var reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken))
        {
            while (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                rows.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2)));
            }
        }

        Assert.Equal(users.Select(u => $"{eventId}/{u}").Order(), rows.Select(r => r.AggregateId).Order());
        Assert.All(rows, r => Assert.Equal("ticketqueue.queue.joined.v1", r.Type));
        var envelope = TicketQueue.Grains.DomainEvents.CloudEventEnvelope.Decode(System.Text.Encoding.UTF8.GetBytes(rows[0].Payload));
        Assert.Equal(rows[0].AggregateId, envelope.Subject);
        Assert.Equal("ticketqueue.queue.joined.v1", envelope.Type);

        // One statement, one transaction: each event row carries the transaction id (xmin) of its place's row.
        await using var same = new NpgsqlCommand(
            """
            SELECT e.user_id::text, o.xmin::text = e.xmin::text
            FROM queue_service.queue_entries e
            JOIN common.outbox_events o ON o.aggregate_id = $1 || '/' || e.user_id::text
            WHERE e.user_id = ANY($2)
            """, connection);
        same.Parameters.AddWithValue(eventId);
        same.Parameters.AddWithValue(users.ToArray());
        var written = new Dictionary<Guid, bool>();
        await using (var reader = await same.ExecuteReaderAsync(TestContext.Current.CancellationToken))
        {
            while (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                written[Guid.Parse(reader.GetString(0))] = reader.GetBoolean(1);
            }
        }

        Assert.Equal(users.Order(), written.Keys.Order());
        Assert.All(written, w => Assert.True(w.Value, $"the place of {w.Key} and its event were written by different transactions"));
    }

    [Fact]
    public async Task Joining_again_after_a_reload_keeps_the_same_place()
    {
        var eventId = await CreateEvent();
        var user = Guid.NewGuid();
        var first = await QueueShards.For(db.Grains, eventId, user).Join(user);

        await db.DeactivateAll();
        var again = await QueueShards.For(db.Grains, eventId, user).Join(user);

        Assert.Equal(first.Place, again.Place);
        Assert.Equal(1, await CountRows(eventId));
    }

    private async Task<string> CreateEvent()
    {
        var eventId = $"pg-{Guid.NewGuid():N}";
        await db.Grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key).Create(new EventDefinition(
            eventId, "Storage test", "Hall", DateTimeOffset.UtcNow.AddDays(30), DateTimeOffset.UtcNow.AddMinutes(-1),
            "KRW", 4, [new SeatBlockDefinition("floor", "Floor", 2, 10, 10_000m)],
            new QueueSettings(0, 100, TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(5))));
        return eventId;
    }

    private async Task<long> CountRows(string eventId)
    {
        await using var connection = new NpgsqlConnection(db.ConnectionString);
        await connection.OpenAsync(TestContext.Current.CancellationToken);
        await using var command = new NpgsqlCommand("SELECT count(*) FROM queue_service.queue_entries WHERE shard_key LIKE $1", connection);
        command.Parameters.AddWithValue(eventId + "#%");
        return (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
    }
}
