using TicketQueue.Integration.Tests.Infrastructure;

namespace TicketQueue.Integration.Tests.Kafka;

/// <summary>
/// End to end: a purchase through the gateway of a process cluster reaches Kafka (librdkafka's mock
/// broker) as CloudEvents, published by the silos' outbox relays, in order per aggregate.
/// </summary>
[Collection(ProcessClusterCollection.Name)]
public sealed class ClusterEventsTests
{
    [Fact]
    public async Task A_purchase_through_the_gateway_reaches_Kafka_in_order()
    {
        var ct = TestContext.Current.CancellationToken;
        using var kafka = KafkaMockCluster.Start();
        await using var cluster = await ProcessCluster.Start(silos: 2, gateways: 1, kafka.BootstrapServers);
        using var consumer = EventConsumer.Start(kafka.BootstrapServers, ["ticketqueue.queue", "ticketqueue.reservation", "ticketqueue.payment"]);
        var api = new ShopperApi(cluster.Gateways[0]);
        var admin = await api.Admin(ct);
        var eventId = await admin.CreateEvent(rows: 2, seatsPerRow: 10, ct);
        var fan = await api.Register(ct);

        await fan.Join(eventId, ct);
        var admission = await fan.AwaitAdmission(eventId, ct);
        var reservationId = (await fan.Hold(eventId, admission, 2, ct))["reservationId"]!.GetValue<string>();
        var paid = await fan.PayWithSandbox(reservationId, ct);
        var paymentId = paid["payment"]!["paymentId"]!.GetValue<string>();

        var expected = new Dictionary<string, string[]>
        {
            [reservationId] = ["ticketqueue.reservation.seats-held.v1", "ticketqueue.reservation.confirmed.v1"],
            [$"sandbox:{paymentId}"] = ["ticketqueue.payment.approved.v1"],
        };
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!expected.All(e => consumer.Received.Count(r => r.Key == e.Key) >= e.Value.Length)
            || !consumer.Received.Any(r => r.Event.Type == "ticketqueue.queue.admitted.v1" && r.Key.StartsWith(eventId + "/", StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"events still missing; received: {string.Join(", ", consumer.Received.Select(r => r.Event.Type))}");
            await Task.Delay(200, ct);
        }

        foreach (var (key, types) in expected)
        {
            var received = consumer.Received.Where(r => r.Key == key).ToList();
            Assert.Equal(types, received.Select(r => r.Event.Type).Distinct());
            Assert.All(received, r => Assert.Equal(key, r.Event.Subject));
            Assert.Single(received.Select(r => r.Partition).Distinct());
        }

        var queue = consumer.Received.Where(r => r.Key.StartsWith(eventId + "/", StringComparison.Ordinal)).Select(r => r.Event.Type).Distinct().ToList();
        Assert.Equal(["ticketqueue.queue.joined.v1", "ticketqueue.queue.admitted.v1"], queue);
        Assert.All(consumer.Received, r => Assert.Equal("application/cloudevents+json", r.ContentType));
    }
}
