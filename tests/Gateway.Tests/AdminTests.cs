using Microsoft.Extensions.Diagnostics.HealthChecks;
using TicketQueue.Gateway.Admin;
using TicketQueue.Gateway.Hosting;
using TicketQueue.Grains.DomainEvents.Relay;

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
        await Api.CreatePausedEvent(spec, ct);
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

    [Fact]
    public async Task Readiness_reports_the_cluster_and_the_outbox_lag()
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await Api.Anonymous().GetAsync("/health/ready", ct);
        await response.ShouldBe(HttpStatusCode.OK);
        var report = await response.Content.ReadFromJsonAsync<JsonElement>(ct);

        Assert.Equal("Healthy", report.GetProperty("status").GetString());
        Assert.Equal("Healthy", report.GetProperty("checks").GetProperty("ready").GetProperty("status").GetString());
        var outbox = report.GetProperty("checks").GetProperty("outbox");
        Assert.Equal("Healthy", outbox.GetProperty("status").GetString());
        Assert.Equal(0, outbox.GetProperty("data").GetProperty("unshipped").GetInt64());
        Assert.False(outbox.GetProperty("data").GetProperty("relayEnabled").GetBoolean());
    }

    [Fact]
    public void An_outbox_lag_past_its_alert_threshold_reads_degraded_with_its_numbers()
    {
        // Embedded mode has no outbox to lag (the test above); a cluster's relay reports this when Kafka is away.
        var late = OutboxCheck.Report(new OutboxStatus(Unshipped: 42, OldestAgeSeconds: 75.44, AlertThresholdSeconds: 60, Healthy: false, RelayEnabled: true));
        var onTime = OutboxCheck.Report(new OutboxStatus(Unshipped: 3, OldestAgeSeconds: 0.4, AlertThresholdSeconds: 60, Healthy: true, RelayEnabled: true));

        Assert.Equal(HealthStatus.Degraded, late.Status);
        Assert.Equal("42 events waiting to be published, the oldest for 75 s (alert at 60 s)", late.Description);
        Assert.Equal(42L, late.Data["unshipped"]);
        Assert.Equal(75.4, late.Data["oldestAgeSeconds"]);
        Assert.Equal(HealthStatus.Healthy, onTime.Status);
        Assert.Equal(3L, onTime.Data["unshipped"]);
    }

    [Fact]
    public async Task The_embedded_event_log_shows_what_a_join_recorded()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec();
        await Api.CreatePausedEvent(spec, ct);
        var user = await Api.Register(ct);
        await user.Join(spec.EventId, ct);

        var admin = await Api.Admin(ct);
        var log = await admin.Http.GetFromJsonAsync<DomainEventLogView>("/api/admin/domain-events?limit=1000", TestApi.Json, ct);

        var joined = Assert.Single(log!.Recent, e => e.AggregateId == $"{spec.EventId}/{user.UserId}");
        Assert.Equal("ticketqueue.queue.joined.v1", joined.Type);
        Assert.Equal("queue", joined.AggregateType);
        Assert.True(log.Counts["ticketqueue.queue.joined.v1"] >= 1);
    }
}
