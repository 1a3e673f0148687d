using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Queue;

namespace TicketQueue.Grains.Tests.Queue;

/// <summary>
/// A place in line is told only once it is saved: the shard's group commit, a storage outage, and a
/// second activation of the same shard.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class QueueDurabilityTests(ClusterFixture fixture)
{
    [Fact]
    public async Task A_join_whose_record_cannot_be_saved_is_not_answered_and_succeeds_with_the_same_place_later()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 1));
        var user = Guid.NewGuid();
        fixture.QueueRecords.FailSaves(queue.EventId, true);

        await Assert.ThrowsAnyAsync<Exception>(() => queue.Join(user));
        await Assert.ThrowsAnyAsync<Exception>(() => queue.Shard(user).GetStatus(user));

        fixture.QueueRecords.FailSaves(queue.EventId, false);
        var joined = await queue.Join(user);
        Assert.Equal(1, joined.TicketNumber);

        await fixture.Cluster.DeactivateAsync(queue.Shard(user));
        Assert.Equal(1, (await queue.Status(user)).TicketNumber);
    }

    [Fact]
    public async Task A_block_of_ticket_numbers_the_queue_could_not_store_is_never_handed_out()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings());
        await queue.Queue.UpdateSettings(new QueueSettingsUpdate(null, null, Paused: true));
        var blockSize = new QueueOptions().TicketBlockSize;
        for (var i = 0; i < blockSize; i++)
        {
            await queue.Queue.Issue();
        }

        // The next number needs the next block reserved, and storage is away.
        var queueGrain = queue.Queue.GetGrainId();
        using (fixture.StorageFaults.FailWritesOf("queue", queueGrain))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => queue.Queue.Issue());
        }

        // Every number handed out after the failure lies inside a stored block: a crash now cannot give it
        // to a second user. (Before, the unstored block stayed in memory and numbers came from it unsaved.)
        var next = await queue.Queue.Issue();
        var storage = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageNames.Events);
        var stored = new GrainState<EventQueueState>();
        await storage.ReadStateAsync("queue", queueGrain, stored);
        var issuedUpTo = Assert.IsType<EventQueueState>(stored.State).IssuedUpTo;
        Assert.True(next.TicketNumber <= issuedUpTo, $"ticket {next.TicketNumber} handed out, but the stored block ends at {issuedUpTo}");
    }

    [Fact]
    public async Task A_join_waiting_on_a_save_that_will_never_run_hears_of_the_failure()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings());
        var users = UsersOfOneShard(2);
        var gate = fixture.QueueRecords.HoldNextSave(queue.EventId);

        // The first join's save is running (held); the second join's change waits for the next save.
        var first = queue.Join(users[0]);
        await gate.Entered.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var issued = fixture.Calls.HoldNextAnswer(queue.Queue.GetGrainId(), nameof(IEventQueueGrain.Issue));
        var second = queue.Join(users[1]);
        await issued.Entered.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        issued.Release();
        // A call queued on the shard behind the released answer: once it is answered, the second join has
        // taken its number and recorded its change, which now waits for the next save.
        Assert.Null(await queue.Shard(users[1]).GetStatus(Guid.NewGuid()));
        Assert.Equal(2, (await queue.Queue.GetStats()).Issued);
        gate.Fail(new IOException("Storage is unreachable (held save)."));

        await Assert.ThrowsAnyAsync<Exception>(() => first);
        // Before, nothing started the next save: the second join hung until the call timed out.
        var answered = await Task.WhenAny(second, Task.Delay(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Same(second, answered);
        await Assert.ThrowsAnyAsync<Exception>(() => second);

        // Both retries are saved, with the places they were given.
        var firstAgain = await queue.Join(users[0]);
        var secondAgain = await queue.Join(users[1]);
        await fixture.Cluster.DeactivateAsync(queue.Shard(users[0]));
        Assert.Equal(firstAgain.TicketNumber, (await queue.Status(users[0])).TicketNumber);
        Assert.Equal(secondAgain.TicketNumber, (await queue.Status(users[1])).TicketNumber);
        Assert.NotEqual(firstAgain.TicketNumber, secondAgain.TicketNumber);
    }

    [Fact]
    public async Task A_claim_retried_after_its_shard_died_unsaved_counts_the_shopper_once()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 1_200, claimWindow: TimeSpan.FromMinutes(2)));
        var users = await BothAdmittedInOneBatch(queue);

        // The queue counts the claim, then the shard cannot save the user's flag and dies with it unsaved.
        await DiesUnsaved(queue, users[0], shard => shard.Claim(users[0]));
        await queue.Shard(users[0]).Claim(users[0]);

        // Past the claim window only those who claimed count: one, not the same shopper twice.
        var stats = await queue.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(1, stats.ActiveShoppers);
    }

    [Fact]
    public async Task A_finish_retried_after_its_shard_died_unsaved_frees_one_slot_only()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 1_200, claimWindow: TimeSpan.FromMinutes(2)));
        var users = await BothAdmittedInOneBatch(queue);
        await queue.Shard(users[0]).Claim(users[0]);
        await queue.Shard(users[1]).Claim(users[1]);

        await DiesUnsaved(queue, users[0], shard => shard.Finish(users[0]));
        await queue.Shard(users[0]).Finish(users[0]);

        // The other shopper still shops: counting the finish twice would have freed their slot too.
        var stats = await queue.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(1, stats.ActiveShoppers);
    }

    [Fact]
    public async Task A_finish_retried_while_its_record_is_unsaved_is_answered_only_once_it_is_saved()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 1_200, claimWindow: TimeSpan.FromMinutes(2)));
        var user = (await BothAdmittedInOneBatch(queue))[0];
        await queue.Shard(user).Claim(user);

        fixture.QueueRecords.FailSaves(queue.EventId, true);
        await Assert.ThrowsAnyAsync<Exception>(() => queue.Shard(user).Finish(user));
        // Before, the retry found the finish in memory and confirmed it, though a crash would still lose it.
        await Assert.ThrowsAnyAsync<Exception>(() => queue.Shard(user).Finish(user));

        fixture.QueueRecords.FailSaves(queue.EventId, false);
        await queue.Shard(user).Finish(user);
        await fixture.Cluster.DeactivateAsync(queue.Shard(user));
        Assert.Equal(QueueStatusKind.Expired, (await queue.Status(user)).Status);
    }

    [Fact]
    public async Task A_leave_retried_while_its_record_is_unsaved_is_answered_only_once_it_is_saved()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 1));
        var user = Guid.NewGuid();
        await queue.Join(user);

        fixture.QueueRecords.FailSaves(queue.EventId, true);
        await Assert.ThrowsAnyAsync<Exception>(() => queue.Shard(user).Leave(user));
        // Before, the retry answered "not in the queue" at once, though a crash would bring the place back.
        await Assert.ThrowsAnyAsync<Exception>(() => queue.Shard(user).Leave(user));

        fixture.QueueRecords.FailSaves(queue.EventId, false);
        Assert.True(await queue.Shard(user).Leave(user));
        Assert.False(await queue.Shard(user).Leave(user));
        await fixture.Cluster.DeactivateAsync(queue.Shard(user));
        Assert.Null(await queue.Shard(user).GetStatus(user));
    }

    [Fact]
    public async Task A_place_whose_leave_is_unsaved_is_not_reported_gone_by_a_read_or_a_claim()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 1));
        var user = Guid.NewGuid();
        await queue.Join(user);

        fixture.QueueRecords.FailSaves(queue.EventId, true);
        try
        {
            await Assert.ThrowsAnyAsync<Exception>(() => queue.Shard(user).Leave(user));
            // Before, both answered "not in the queue" at once from the unsaved leave: the page showed the
            // place gone, and the gateway dropped the follower, though a crash would bring the place back.
            await Assert.ThrowsAnyAsync<Exception>(() => queue.Shard(user).GetStatus(user));
            await Assert.ThrowsAnyAsync<Exception>(() => queue.Shard(user).Claim(user));
        }
        finally
        {
            fixture.QueueRecords.FailSaves(queue.EventId, false);
        }

        // Once the leave is saved, both say so.
        Assert.Null(await queue.Shard(user).GetStatus(user));
        Assert.Null(await queue.Shard(user).Claim(user));
        await fixture.Cluster.DeactivateAsync(queue.Shard(user));
        Assert.Null(await queue.Shard(user).GetStatus(user));
    }

    [Fact]
    public async Task Claims_and_finishes_of_shards_from_before_the_upgrade_still_count_by_batch()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 1_200, claimWindow: TimeSpan.FromMinutes(2)));
        var users = await BothAdmittedInOneBatch(queue);
        var batchId = (await queue.Status(users[0])).BatchId!.Value;

        // An old silo's shard calls the old methods during a rolling upgrade.
        await queue.Queue.ClaimInBatch(batchId);
        await queue.Queue.ClaimInBatch(batchId);
        await queue.Queue.FinishInBatch(batchId, claimed: true);

        var stats = await queue.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(1, stats.ActiveShoppers);
    }

    // One batch of two, so that counting one of them twice shows (a batch's count is clamped to its size).
    private static async Task<List<Guid>> BothAdmittedInOneBatch(QueueUnderTest queue)
    {
        // Credit accrues while nobody waits (up to two ticks' worth: 2 at 1,200 a minute and the tests'
        // 50 ms ticks), so the next tick admits both at once.
        await queue.AdvanceSeconds(2);
        var users = await queue.JoinMany(2);
        await queue.AdvanceSeconds(1);
        var stats = await queue.CursorReaches(2);
        Assert.Equal((2, 2), (stats.ServingCursor, stats.ActiveShoppers));
        Assert.All(users, u => Assert.Equal(QueueStatusKind.Admitted, queue.Status(u).Result.Status));
        return users;
    }

    // The call reaches the queue grain, then the shard's save fails and the shard is deactivated with the
    // change unsaved, as a crash would leave it: the user's retry finds the record as it was before.
    private async Task DiesUnsaved(QueueUnderTest queue, Guid user, Func<IQueueShardGrain, Task> call)
    {
        fixture.QueueRecords.FailSaves(queue.EventId, true);
        try
        {
            await Assert.ThrowsAnyAsync<Exception>(() => call(queue.Shard(user)));
            await fixture.Cluster.DeactivateAsync(queue.Shard(user));
        }
        finally
        {
            fixture.QueueRecords.FailSaves(queue.EventId, false);
        }
    }

    [Fact]
    public async Task Joins_into_one_shard_at_once_are_all_saved()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings());
        var users = UsersOfOneShard(40);

        var joined = await Task.WhenAll(users.Select(queue.Join));
        await fixture.Cluster.DeactivateAsync(queue.Shard(users[0]));

        var snapshot = await fixture.QueueRecords.Inner.Load(QueueShards.KeyFor(queue.EventId, users[0]), TestContext.Current.CancellationToken);
        Assert.Equal(users.Count, snapshot.Entries.Count);
        foreach (var (user, status) in users.Zip(joined))
        {
            Assert.Equal(status.Place.Number, snapshot.Entries[user].Number);
            Assert.Equal(status.TicketNumber, (await queue.Status(user)).TicketNumber);
        }

        Assert.Equal(Enumerable.Range(1, users.Count).Select(n => (long)n), joined.Select(j => j.TicketNumber!.Value).Order());
    }

    [Fact]
    public async Task A_shard_that_lost_a_save_race_reloads_instead_of_overwriting()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings());
        var users = UsersOfOneShard(3);
        var shardKey = QueueShards.KeyFor(queue.EventId, users[0]);
        await queue.Join(users[0]);

        // Another activation of the same shard (as during a failover) gives a user a place and saves first.
        var issued = await queue.Queue.Issue();
        var stored = await fixture.QueueRecords.Inner.Load(shardKey, TestContext.Current.CancellationToken);
        await fixture.QueueRecords.Inner.Save(shardKey, stored.Version,
            [new QueueEntryChange(users[1], new QueueEntry { Number = issued.Place.Number })], [], TestContext.Current.CancellationToken);

        await Assert.ThrowsAsync<InconsistentStateException>(() => queue.Join(users[2]));

        // The stale activation went away: the next one sees both saves and takes the join.
        Assert.Equal(1, (await queue.Status(users[0])).TicketNumber);
        Assert.Equal(issued.Place, (await queue.Shard(users[1]).GetStatus(users[1]))!.Place);
        var retried = await queue.Join(users[2]);
        Assert.NotNull(retried.TicketNumber);
        var after = await fixture.QueueRecords.Inner.Load(shardKey, TestContext.Current.CancellationToken);
        Assert.Equal(3, after.Entries.Count);
    }

    [Fact]
    public async Task A_stale_shard_does_not_answer_from_its_emptied_picture_before_it_goes()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 1));
        await queue.Queue.UpdateSettings(new QueueSettingsUpdate(null, null, Paused: true));
        var users = UsersOfOneShard(2);
        var first = await queue.Join(users[0]);

        // A save is running (held); the first user's leave waits for the next save, and a status read of
        // that user waits behind the leave.
        var gate = fixture.QueueRecords.HoldNextSave(queue.EventId);
        var joining = queue.Join(users[1]);
        await gate.Entered.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        // Each call is in the held activation before the next step: a late one would reach the next activation.
        var leaving = queue.Shard(users[0]).Leave(users[0]);
        await fixture.Calls.Entered(nameof(IQueueShardGrain.Leave), users[0]).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        var reading = queue.Shard(users[0]).GetStatus(users[0]);
        await fixture.Calls.Entered(nameof(IQueueShardGrain.GetStatus), users[0]).WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        // The running save finds that another activation saved the shard first.
        gate.Fail(new InconsistentStateException("Another activation saved this shard (held save)."));
        await Assert.ThrowsAnyAsync<Exception>(() => joining);
        await Assert.ThrowsAnyAsync<Exception>(() => leaving);

        // Before, the read answered "not in the queue" from the emptied activation, though the place stands.
        await Assert.ThrowsAnyAsync<Exception>(() => reading);
        Assert.Equal(first.TicketNumber, (await queue.Status(users[0])).TicketNumber);
    }

    [Fact]
    public async Task A_join_already_past_its_first_step_when_its_shard_goes_stale_is_not_answered_from_an_unsaved_record()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 1));
        await queue.Queue.UpdateSettings(new QueueSettingsUpdate(null, null, Paused: true));
        var users = UsersOfOneShard(2);

        // The first user's place cannot be saved: it stays in the shard's memory, unsaved and untold.
        fixture.QueueRecords.FailSaves(queue.EventId, true);
        await Assert.ThrowsAnyAsync<Exception>(() => queue.Join(users[0]));
        fixture.QueueRecords.FailSaves(queue.EventId, false);

        // The user retries; the shard finds the record and asks the queue about it (answer held).
        var describe = fixture.Calls.HoldNextAnswer(queue.Queue.GetGrainId(), nameof(IEventQueueGrain.Describe));
        var retry = queue.Join(users[0]);
        await describe.Entered.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        // Meanwhile a save finds that another activation saved the shard first: this one is stale.
        var gate = fixture.QueueRecords.HoldNextSave(queue.EventId);
        var other = queue.Join(users[1]);
        await gate.Entered.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        gate.Fail(new InconsistentStateException("Another activation saved this shard (held save)."));
        await Assert.ThrowsAnyAsync<Exception>(() => other);

        // Before, the retry answered with a place that no save ever stored: lost with the activation.
        describe.Release();
        await Assert.ThrowsAnyAsync<Exception>(() => retry);
        var joined = await queue.Join(users[0]);
        await fixture.Cluster.DeactivateAsync(queue.Shard(users[0]));
        Assert.Equal(joined.TicketNumber, (await queue.Status(users[0])).TicketNumber);
    }

    private static List<Guid> UsersOfOneShard(int count)
    {
        var users = new List<Guid>();
        while (users.Count < count)
        {
            var user = Guid.NewGuid();
            if (QueueShards.ShardOf(user) == 5)
            {
                users.Add(user);
            }
        }

        return users;
    }
}
