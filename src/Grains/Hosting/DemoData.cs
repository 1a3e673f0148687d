namespace TicketQueue.Grains.Hosting;

/// <summary>Two events for trying TicketQueue by hand: one on sale now, one that opens in ten minutes.</summary>
public static class DemoData
{
    public const string OnSaleEventId = "spring-concert";
    public const string UpcomingEventId = "summer-festival";

    private static readonly TimeSpan Kst = TimeSpan.FromHours(9);

    // The venues are in Seoul: an hour of the day there, whatever the server's own time zone.
    private static DateTimeOffset InSeoul(DateTimeOffset now, int days, int hour) =>
        new(now.ToOffset(Kst).Date.AddDays(days).AddHours(hour), Kst);

    public static async Task Seed(IGrainFactory grains, TimeProvider time)
    {
        var now = time.GetUtcNow();
        var catalog = grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key);

        // 120 admissions a minute: a person watching sees the line move every second.
        await catalog.CreateIfAbsent(new EventDefinition(
            OnSaleEventId, "Spring Concert at the Olympic Hall", "Olympic Hall, Seoul",
            StartsAt: InSeoul(now, days: 30, hour: 19), SalesOpenAt: now.AddMinutes(-1), "KRW", TicketLimitPerUser: 4,
            Blocks:
            [
                new SeatBlockDefinition("floor", "Floor", Rows: 10, SeatsPerRow: 20, Price: 154000m),
                new SeatBlockDefinition("balcony", "Balcony", Rows: 15, SeatsPerRow: 30, Price: 99000m),
            ],
            new QueueSettings(AdmissionsPerMinute: 120, MaxActiveShoppers: 200,
                ClaimWindow: TimeSpan.FromMinutes(2), ShoppingSession: TimeSpan.FromMinutes(10), HoldDuration: TimeSpan.FromMinutes(5))));

        await catalog.CreateIfAbsent(new EventDefinition(
            UpcomingEventId, "Summer Festival Day Pass", "Nanji Park, Seoul",
            StartsAt: InSeoul(now, days: 60, hour: 12), SalesOpenAt: now.AddMinutes(10), "KRW", TicketLimitPerUser: 2,
            Blocks:
            [
                new SeatBlockDefinition("ga", "General admission", Rows: 40, SeatsPerRow: 50, Price: 88000m),
            ],
            new QueueSettings(AdmissionsPerMinute: 600, MaxActiveShoppers: 500,
                ClaimWindow: TimeSpan.FromMinutes(2), ShoppingSession: TimeSpan.FromMinutes(10), HoldDuration: TimeSpan.FromMinutes(5))));
    }
}
