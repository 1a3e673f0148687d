using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.Grains.Tests.Queue;

[Collection(ClusterCollection.Name)]
public sealed class PreQueueTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Joins_before_sales_open_wait_in_the_pre_queue()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(), salesOpenIn: TimeSpan.FromMinutes(10));

        for (var i = 1; i <= 5; i++)
        {
            var status = await queue.Join(Guid.NewGuid());
            Assert.Equal(QueueStatusKind.PreQueue, status.Status);
            Assert.True(status.Place.PreQueue);
            Assert.Equal(i, status.Place.Number);
            Assert.Null(status.TicketNumber);
            Assert.Null(status.Position);
        }

        Assert.False((await queue.Queue.GetStats()).Opened);
    }

    [Fact]
    public async Task Opening_draws_the_pre_queue_into_tickets_one_to_P_and_later_joiners_follow_in_order()
    {
        const int preQueued = 30;
        var opensIn = TimeSpan.FromMinutes(10);
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(), salesOpenIn: opensIn);
        var early = await queue.JoinMany(preQueued);

        var opened = await queue.Advance(opensIn + TimeSpan.FromSeconds(1));
        Assert.True(opened.Opened);
        Assert.Equal(preQueued, opened.PreQueued);

        var drawn = new List<long>();
        foreach (var userId in early)
        {
            var status = await queue.Status(userId);
            Assert.NotEqual(QueueStatusKind.PreQueue, status.Status);
            drawn.Add(status.TicketNumber!.Value);
        }

        Assert.Equal(Enumerable.Range(1, preQueued).Select(n => (long)n), drawn.Order());
        // Thirty people keeping their arrival order by chance has odds of 1 in 30!.
        Assert.False(drawn.SequenceEqual(drawn.Order()), "The pre-queue kept its arrival order.");

        var late = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            var status = await queue.Join(Guid.NewGuid());
            Assert.False(status.Place.PreQueue);
            late.Add(status.TicketNumber!.Value);
        }

        Assert.Equal(Enumerable.Range(preQueued + 1, 5).Select(n => (long)n), late);
    }
}
