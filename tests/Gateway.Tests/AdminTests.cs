using TicketQueue.Gateway.Admin;

namespace TicketQueue.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class AdminTests(GatewayFixture fixture)
{
    private TestApi Api => fixture.Api;

    [Fact]
    public async Task Stats_count_the_line_and_the_seats_and_name_the_silo_of_the_queue()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec { Rows = 2, SeatsPerRow = 5 };
        await Api.CreateEvent(spec, ct);
        await Api.SetQueue(spec.EventId, new { paused = true }, ct);
        foreach (var user in await Api.RegisterMany(3, ct))
        {
            await user.Join(spec.EventId, ct);
        }

        var admin = await Api.Admin(ct);
        var stats = await admin.Http.GetFromJsonAsync<EventStats>($"/api/admin/events/{spec.EventId}/stats", TestApi.Json, ct);

        Assert.NotNull(stats);
        Assert.Equal(3, stats.Waiting);
        Assert.Equal(3, stats.Issued);
        Assert.True(stats.Paused);
        Assert.Equal(10, stats.SeatsTotal);
        Assert.Equal(0, stats.SeatsSold);
        var cluster = await admin.Http.GetFromJsonAsync<ClusterView>("/api/admin/cluster", TestApi.Json, ct);
        var silo = Assert.Single(cluster!.Silos);
        Assert.Equal("Active", silo.Status);
        Assert.Equal(silo.Address, stats.QueueSilo);
    }
}
