using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.Grains.Tests.Queue;

[Collection(ClusterCollection.Name)]
public sealed class AdmissionTests(ClusterFixture fixture)
{
    // The queue lets admission credit pile up to two ticks' worth, and never less than one admission.
    private static double BurstCap(int admissionsPerMinute) =>
        Math.Max(1.0, admissionsPerMinute / 60.0 * ClusterFixture.TickInterval.TotalSeconds * 2);

    [Fact]
    public async Task Admission_follows_the_rate_as_the_clock_moves()
    {
        const int rate = 60;
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: rate));
        await queue.JoinMany(40);

        // Ten seconds in whole-second steps, then ten more in quarter-second steps: the rate must not
        // depend on how the time arrives.
        var elapsed = TimeSpan.Zero;
        foreach (var step in Enumerable.Repeat(TimeSpan.FromSeconds(1), 10).Concat(Enumerable.Repeat(TimeSpan.FromSeconds(0.25), 40)))
        {
            elapsed += step;
            var stats = await queue.Advance(step);
            Assert.True(stats.ServingCursor <= elapsed.TotalSeconds * rate / 60 + BurstCap(rate),
                $"Admitted {stats.ServingCursor} after {elapsed.TotalSeconds} s at {rate}/min.");
        }

        var final = await queue.CursorReaches(20);
        Assert.InRange(final.ServingCursor, 19, 21);
        Assert.Equal(40 - final.ServingCursor, final.Waiting);
    }

    [Fact]
    public async Task A_long_clock_jump_admits_no_more_than_the_burst_cap()
    {
        const int rate = 60;
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: rate));
        await queue.JoinMany(20);

        var stats = await queue.Advance(TimeSpan.FromMinutes(10));

        Assert.InRange(stats.ServingCursor, 1, (long)BurstCap(rate));
    }

    [Fact]
    public async Task Admission_stops_at_max_active_shoppers_until_someone_finishes()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 60, maxActiveShoppers: 3));
        var users = await queue.JoinMany(8);

        await queue.AdvanceSeconds(3);
        Assert.Equal(3, (await queue.CursorReaches(3)).ServingCursor);

        var blocked = await queue.AdvanceSeconds(10);
        Assert.Equal(3, blocked.ServingCursor);
        Assert.Equal(3, blocked.ActiveShoppers);

        // Finishing frees a slot...
        await queue.Shard(users[0]).Finish(users[0]);
        await queue.AdvanceSeconds(1);
        Assert.Equal(4, (await queue.CursorReaches(4)).ServingCursor);

        // ...and so does leaving the line after admission.
        Assert.True(await queue.Shard(users[1]).Leave(users[1]));
        await queue.AdvanceSeconds(1);
        Assert.Equal(5, (await queue.CursorReaches(5)).ServingCursor);

        var blockedAgain = await queue.AdvanceSeconds(5);
        Assert.Equal(5, blockedAgain.ServingCursor);
        Assert.Equal(3, blockedAgain.ActiveShoppers);
    }

    [Fact]
    public async Task The_wait_estimate_follows_the_pace_the_shopper_cap_allows()
    {
        // 600 a minute (one admission per 100 ms step here), but only 3 shop at once, for up to 10 minutes.
        var queue = await QueueUnderTest.Create(fixture,
            TestEvents.Settings(admissionsPerMinute: 600, maxActiveShoppers: 3, shoppingSession: TimeSpan.FromMinutes(10)));
        var users = await queue.JoinMany(10);
        async Task<long?> Estimate() => (await queue.Status(users[9])).EstimatedWaitSeconds;

        // Before the cap binds the estimate is the rate's: 10th in line at 600 a minute is 1 s away.
        Assert.Equal(1, await Estimate());

        for (var i = 0; i < 3; i++)
        {
            await queue.Advance(TimeSpan.FromMilliseconds(100));
        }

        Assert.Equal(3, (await queue.CursorReaches(3)).ServingCursor);

        // Every slot taken, 7 still waiting: the line moves as fast as slots free up. Three were admitted
        // in the last minute, so 7 places at 3 a minute is 140 s, not the rate's 0.7 s.
        Assert.Equal(140, await Estimate());

        // A minute later nobody more was admitted. The floor is every slot turning over once per session,
        // since every session ends by then: 3 per 10 minutes, so 7 places take 1,400 s.
        await queue.AdvanceSeconds(61);
        Assert.Equal(3, (await queue.Queue.GetStats()).ServingCursor);
        Assert.Equal(1_400, await Estimate());

        // More slots: the cap no longer holds the line back, and the estimate is the rate's again.
        await queue.Queue.UpdateSettings(new QueueSettingsUpdate(null, 100, null));
        await queue.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(4, (await queue.CursorReaches(4)).ServingCursor);
        Assert.Equal(1, await Estimate());
    }

    [Fact]
    public async Task Admitted_users_who_never_claim_stop_counting_after_the_claim_window()
    {
        var claimWindow = TimeSpan.FromMinutes(2);
        var queue = await QueueUnderTest.Create(fixture,
            TestEvents.Settings(admissionsPerMinute: 60, maxActiveShoppers: 2, claimWindow: claimWindow));
        await queue.JoinMany(5);

        await queue.AdvanceSeconds(2);
        Assert.Equal(2, (await queue.CursorReaches(2)).ServingCursor);

        // Inside the claim window the no-shows still hold their slots.
        var inWindow = await queue.Advance(claimWindow - TimeSpan.FromSeconds(10));
        Assert.Equal(2, inWindow.ServingCursor);

        await queue.Advance(TimeSpan.FromSeconds(15));
        await queue.AdvanceSeconds(1);
        var moved = await queue.CursorReaches(4);
        Assert.Equal(4, moved.ServingCursor);
    }

    [Fact]
    public async Task A_no_show_who_comes_back_after_the_claim_window_has_lost_the_turn_and_adds_no_shopper()
    {
        var claimWindow = TimeSpan.FromMinutes(2);
        var queue = await QueueUnderTest.Create(fixture,
            TestEvents.Settings(admissionsPerMinute: 60, maxActiveShoppers: 2, claimWindow: claimWindow, shoppingSession: TimeSpan.FromMinutes(10)));
        var users = await queue.JoinMany(5);
        await queue.AdvanceSeconds(2);
        await queue.CursorReaches(2);

        // The first two never show up; past the window their slots go to the next two, who do.
        await queue.Advance(claimWindow + TimeSpan.FromSeconds(5));
        await queue.AdvanceSeconds(1);
        await queue.CursorReaches(4);
        foreach (var user in users.Skip(2).Take(2))
        {
            Assert.Equal(QueueStatusKind.Admitted, (await queue.Shard(user).Claim(user))!.Status);
        }

        // Before, the first came back inside their session and was let in: three shoppers under a limit of two.
        var late = await queue.Shard(users[0]).Claim(users[0]);
        Assert.Equal(QueueStatusKind.Expired, late!.Status);
        Assert.Null(late.BatchId);
        Assert.Equal(QueueStatusKind.Expired, (await queue.Status(users[1])).Status);
        Assert.Equal(2, (await queue.Queue.GetStats()).ActiveShoppers);

        // Joining again is a fresh place at the back of the line.
        Assert.Equal(6, (await queue.Join(users[0])).TicketNumber);
    }

    [Fact]
    public async Task A_shopper_who_showed_up_keeps_the_turn_after_the_claim_window_though_the_queue_lost_its_count()
    {
        var claimWindow = TimeSpan.FromMinutes(2);
        var queue = await QueueUnderTest.Create(fixture,
            TestEvents.Settings(admissionsPerMinute: 60, maxActiveShoppers: 2, claimWindow: claimWindow, shoppingSession: TimeSpan.FromMinutes(10)));
        var users = await queue.JoinMany(3);
        await queue.AdvanceSeconds(2);
        await queue.CursorReaches(2);

        // The shopper shows up (the shard saves that), but the queue grain dies before it stores the count.
        var queueGrain = queue.Queue.GetGrainId();
        using (fixture.StorageFaults.FailWritesOf("queue", queueGrain))
        {
            Assert.Equal(QueueStatusKind.Admitted, (await queue.Shard(users[0]).Claim(users[0]))!.Status);
            await fixture.Cluster.DeactivateAsync(queue.Queue);
        }

        // Past the window the shard's record decides, not the count the crash set back: before, the
        // shopper was told the turn had passed in the middle of shopping.
        await queue.Advance(claimWindow + TimeSpan.FromSeconds(5));
        Assert.Equal(QueueStatusKind.Admitted, (await queue.Status(users[0])).Status);
        Assert.Equal(QueueStatusKind.Admitted, (await queue.Shard(users[0]).Claim(users[0]))!.Status);
        Assert.Equal(QueueStatusKind.Expired, (await queue.Status(users[1])).Status);
    }

    // One shopper admitted, the clock 10 s before their claim window closes; the queue's next answer to
    // the shard about them is held until the clock has moved past the window.
    private async Task<(QueueUnderTest Queue, Guid UserId, HeldAnswer Held)> DescribedInsideTheWindowReadAfterIt()
    {
        var claimWindow = TimeSpan.FromMinutes(2);
        var queue = await QueueUnderTest.Create(fixture,
            TestEvents.Settings(admissionsPerMinute: 60, maxActiveShoppers: 2, claimWindow: claimWindow, shoppingSession: TimeSpan.FromMinutes(10)));
        var users = await queue.JoinMany(1);
        await queue.AdvanceSeconds(2);
        await queue.CursorReaches(1);
        await queue.Advance(claimWindow - TimeSpan.FromSeconds(10));
        return (queue, users[0], fixture.Calls.HoldNextAnswer(queue.Queue.GetGrainId(), nameof(IEventQueueGrain.Describe)));
    }

    // Once the queue has described the place (inside the window), the clock moves past the window, and
    // only then does the shard read the answer.
    private async Task<T> ReadAfterTheWindowClosed<T>(HeldAnswer held, Task<T> call)
    {
        await held.Entered;
        fixture.Clock.Advance(TimeSpan.FromSeconds(20));
        held.Release();
        return await call;
    }

    [Fact]
    public async Task A_status_read_shows_the_queues_verdict_on_the_claim_window_not_the_shards_clock()
    {
        var (queue, userId, held) = await DescribedInsideTheWindowReadAfterIt();

        // By the time the shard reads the answer its clock says the window has closed, as the clock of a
        // shard's silo running ahead of the queue's would.
        var read = await ReadAfterTheWindowClosed(held, queue.Shard(userId).GetStatus(userId));

        // Before, the shard's clock decided: a shopper the queue still held a slot for read "expired".
        Assert.Equal(QueueStatusKind.Admitted, read?.Status);
    }

    [Fact]
    public async Task A_claim_the_queue_comes_to_count_after_the_window_closed_is_refused_though_it_was_described_inside_it()
    {
        var (queue, userId, held) = await DescribedInsideTheWindowReadAfterIt();

        // The queue describes the place inside the window; the claim reaches it to be counted only after.
        var claimed = await ReadAfterTheWindowClosed(held, queue.Shard(userId).Claim(userId));

        // Before, the late claim was counted: with the slot already free for the next in line, one shopper
        // above the limit. The queue now judges and counts in one step.
        Assert.Equal(QueueStatusKind.Expired, claimed?.Status);
        Assert.Equal(0, (await queue.Queue.GetStats()).ActiveShoppers);
        Assert.Equal(QueueStatusKind.Expired, (await queue.Status(userId)).Status);
    }

    [Fact]
    public async Task Admitted_users_who_claim_keep_counting_until_their_session_ends()
    {
        var session = TimeSpan.FromMinutes(10);
        var queue = await QueueUnderTest.Create(fixture,
            TestEvents.Settings(admissionsPerMinute: 60, maxActiveShoppers: 2, claimWindow: TimeSpan.FromMinutes(2), shoppingSession: session));
        var users = await queue.JoinMany(5);

        await queue.AdvanceSeconds(2);
        Assert.Equal(2, (await queue.CursorReaches(2)).ServingCursor);
        foreach (var userId in users.Take(2))
        {
            var claimed = await queue.Shard(userId).Claim(userId);
            Assert.Equal(QueueStatusKind.Admitted, claimed!.Status);
        }

        // Past the claim window, and almost to the end of the session: both still shop.
        var afterWindow = await queue.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(2, afterWindow.ServingCursor);
        var nearEnd = await queue.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(2, nearEnd.ServingCursor);
        Assert.Equal(2, nearEnd.ActiveShoppers);

        await queue.Advance(TimeSpan.FromMinutes(1));
        await queue.AdvanceSeconds(1);
        Assert.Equal(4, (await queue.CursorReaches(4)).ServingCursor);
        Assert.Equal(QueueStatusKind.Expired, (await queue.Status(users[0])).Status);
    }

    [Fact]
    public async Task Pausing_stops_admission_and_resuming_restarts_it_without_a_burst()
    {
        // 100 a second: a 50 ms tick's credit is 5, and the burst cap (two ticks' credit) is 10, so credit
        // owed for the paused time would show as a tick of 10.
        Assert.Equal(10, BurstCap(6_000));
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 6_000));
        await queue.JoinMany(200);
        await queue.Advance(ClusterFixture.TickInterval);
        Assert.Equal(5, (await queue.CursorReaches(5)).ServingCursor);

        var paused = await queue.Queue.UpdateSettings(new QueueSettingsUpdate(null, null, Paused: true));
        Assert.True(paused.Settings.Paused);
        for (var i = 0; i < 10; i++)
        {
            await queue.AdvanceSeconds(1);
            await Task.Delay(ClusterFixture.TickInterval * 2, TestContext.Current.CancellationToken);
        }

        Assert.Equal(5, (await queue.Queue.GetStats()).ServingCursor);

        var resumed = await queue.Queue.UpdateSettings(new QueueSettingsUpdate(null, null, Paused: false));
        Assert.False(resumed.Settings.Paused);
        await queue.Advance(ClusterFixture.TickInterval);
        var afterResume = await queue.CursorReaches(10);
        // The paused time is not owed: one tick's worth, no burst on resuming.
        Assert.Equal(10, afterResume.ServingCursor);
    }
}
