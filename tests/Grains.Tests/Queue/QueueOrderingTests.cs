using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.Grains.Tests.Queue;

[Collection(ClusterCollection.Name)]
public sealed class QueueOrderingTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Joins_get_increasing_ticket_numbers_in_arrival_order()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings());

        var tickets = new List<long>();
        for (var i = 0; i < 12; i++)
        {
            var status = await queue.Join(Guid.NewGuid());
            Assert.Equal(QueueStatusKind.Waiting, status.Status);
            Assert.False(status.Place.PreQueue);
            tickets.Add(status.TicketNumber!.Value);
        }

        Assert.Equal(Enumerable.Range(1, 12).Select(n => (long)n), tickets);
    }

    [Fact]
    public async Task Position_is_ticket_minus_serving_cursor()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings(admissionsPerMinute: 60));
        var users = await queue.JoinMany(10);

        await queue.AdvanceSeconds(3);
        var stats = await queue.CursorReaches(3);
        Assert.Equal(3, stats.ServingCursor);

        foreach (var userId in users)
        {
            var status = await queue.Status(userId);
            var ticket = status.TicketNumber!.Value;
            Assert.Equal(stats.ServingCursor, status.ServingCursor);
            if (ticket <= stats.ServingCursor)
            {
                Assert.Equal(QueueStatusKind.Admitted, status.Status);
                Assert.Equal(0, status.Position);
            }
            else
            {
                Assert.Equal(QueueStatusKind.Waiting, status.Status);
                Assert.Equal(ticket - stats.ServingCursor, status.Position);
            }
        }
    }

    [Fact]
    public async Task Join_twice_returns_the_same_ticket()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings());
        await queue.JoinMany(3);
        var userId = Guid.NewGuid();

        var first = await queue.Join(userId);
        var second = await queue.Join(userId);

        Assert.Equal(4, first.TicketNumber);
        Assert.Equal(first.TicketNumber, second.TicketNumber);
        Assert.Equal(first.Place, second.Place);
        Assert.Equal(4, (await queue.Queue.GetStats()).Issued);
    }

    [Fact]
    public async Task Join_after_leave_gets_a_new_later_ticket()
    {
        var queue = await QueueUnderTest.Create(fixture, TestEvents.Settings());
        var userId = Guid.NewGuid();
        var first = await queue.Join(userId);
        await queue.JoinMany(2);

        Assert.True(await queue.Shard(userId).Leave(userId));
        Assert.Null(await queue.Shard(userId).GetStatus(userId));
        var again = await queue.Join(userId);

        Assert.Equal(1, first.TicketNumber);
        Assert.Equal(4, again.TicketNumber);
    }
}
