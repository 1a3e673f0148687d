using TicketQueue.Grains.Abstractions.DomainEvents;
using Orleans.Storage;
using TicketQueue.Grains.DomainEvents;
using TicketQueue.Grains.Queue;

namespace TicketQueue.Grains.Tests.Queue;

public sealed class MemoryQueueEntryStoreTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task The_log_replays_to_the_latest_record_of_each_user_through_compactions()
    {
        var store = new MemoryQueueEntryStore(new InProcessEventLog());
        var expected = new Dictionary<Guid, QueueEntry>();
        var users = Enumerable.Range(0, 500).Select(_ => Guid.NewGuid()).ToList();
        var random = new Random(7);
        long version = 0;
        for (var round = 0; round < 40; round++)
        {
            var changes = new List<QueueEntryChange>();
            foreach (var user in users.OrderBy(_ => random.Next()).Take(100))
            {
                if (random.Next(5) == 0)
                {
                    expected.Remove(user);
                    changes.Add(new(user, null));
                }
                else
                {
                    var entry = new QueueEntry { Number = random.NextInt64(1, long.MaxValue), BatchId = random.Next(), Flags = (QueueEntryFlags)random.Next(8) };
                    expected[user] = entry;
                    changes.Add(new(user, entry));
                }
            }

            version = await store.Save("ev#1", version, changes, [], None);
        }

        var loaded = await store.Load("ev#1", None);
        Assert.Equal(version, loaded.Version);
        Assert.Equal(expected.OrderBy(e => e.Key), loaded.Entries.OrderBy(e => e.Key));
    }

    [Fact]
    public async Task A_save_from_a_stale_version_is_rejected_and_records_no_event()
    {
        var log = new InProcessEventLog();
        var store = new MemoryQueueEntryStore(log);
        var v1 = await store.Save("ev#2", 0, [new(Guid.NewGuid(), new QueueEntry { Number = 1 })], [], None);
        await store.Save("ev#2", v1, [new(Guid.NewGuid(), new QueueEntry { Number = 2 })], [], None);
        var stale = new QueueJoined
        {
            EventId = Guid.NewGuid(), OccurredAt = DateTimeOffset.UnixEpoch, TicketedEventId = "ev", UserId = Guid.NewGuid(), Number = 3, PreQueue = false,
        };

        await Assert.ThrowsAsync<InconsistentStateException>(() => store.Save("ev#2", v1, [new(stale.UserId, new QueueEntry { Number = 3 })], [stale], None));
        Assert.Equal(2, (await store.Load("ev#2", None)).Entries.Count);
        Assert.DoesNotContain(log.Recent(), e => e.EventId == stale.EventId);
    }
}
