using TicketQueue.Grains.Abstractions.Events;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Grains.Tests.Events;

[Collection(ClusterCollection.Name)]
public sealed class EventCatalogTests(ClusterFixture fixture)
{
    private IEventCatalogGrain Catalog => fixture.Grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key);

    [Fact]
    public async Task An_event_whose_write_failed_is_not_created_and_a_retry_is_not_told_otherwise()
    {
        var definition = NewEvent();

        using (fixture.StorageFaults.FailWrites((stateName, _, _) => stateName == "catalog"))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => Catalog.Create(definition));
            // Before, the retry found the unstored event in memory and answered "created".
            await Assert.ThrowsAnyAsync<Exception>(() => Catalog.Create(definition));
        }

        Assert.Null(await Catalog.Get(definition.EventId));
        Assert.Equal(definition.EventId, (await Catalog.Create(definition)).EventId);
        await fixture.Cluster.DeactivateAsync(Catalog);
        Assert.Equal(definition.EventId, (await Catalog.Get(definition.EventId))?.EventId);
    }

    [Fact]
    public async Task Reading_events_does_not_wait_for_a_create_being_written()
    {
        var existing = await fixture.CreateEvent();
        var slow = NewEvent();
        Task<EventDefinition> creating;
        using (var held = fixture.StorageFaults.HoldWrites((stateName, _) => stateName == "catalog"))
        {
            creating = Catalog.Create(slow);
            await held.Entered.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

            // Before, every read (each reservation attempt, each gateway's readiness probe) queued behind the write.
            var read = Catalog.Get(existing.EventId);
            Assert.Same(read, await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken)));
            Assert.Equal(existing.EventId, (await read)?.EventId);
            // What is not stored yet is not shown.
            Assert.Null(await Catalog.Get(slow.EventId));
            Assert.DoesNotContain(await Catalog.List(), e => e.EventId == slow.EventId);
        }

        Assert.Equal(slow.EventId, (await creating).EventId);
        Assert.Equal(slow.EventId, (await Catalog.Get(slow.EventId))?.EventId);
    }

    private EventDefinition NewEvent()
    {
        var now = fixture.Clock.GetUtcNow();
        return new EventDefinition($"ev-{Guid.NewGuid():N}", "Catalog test", "Hall", now.AddDays(30), now.AddMinutes(-1),
            TestEvents.Currency, 4, [new SeatBlockDefinition(TestEvents.BlockId, "Floor", 2, 5, TestEvents.Price)], TestEvents.Settings());
    }

    [Fact]
    public async Task Seeding_the_demo_events_twice_creates_them_once_and_keeps_them_as_first_made()
    {
        await DemoData.Seed(fixture.Grains, fixture.Clock);
        var first = await Catalog.Get(DemoData.OnSaleEventId);
        var upcoming = await Catalog.Get(DemoData.UpcomingEventId);

        // Every silo seeds at start (docker-compose runs two): a later seed must not move the sale.
        fixture.Clock.Advance(TimeSpan.FromHours(1));
        await DemoData.Seed(fixture.Grains, fixture.Clock);

        Assert.NotNull(first);
        Assert.NotNull(upcoming);
        Assert.Equal(first.SalesOpenAt, (await Catalog.Get(DemoData.OnSaleEventId))?.SalesOpenAt);
        Assert.Equal(upcoming.SalesOpenAt, (await Catalog.Get(DemoData.UpcomingEventId))?.SalesOpenAt);
        // The venues are in Seoul: the concert starts at 19:00 there, whatever the server's time zone.
        Assert.Equal(TimeSpan.FromHours(9), first.StartsAt.Offset);
        Assert.Equal(19, first.StartsAt.Hour);
        Assert.Single(await Catalog.List(), e => e.EventId == DemoData.OnSaleEventId);
    }
}
