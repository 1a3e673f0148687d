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
        using var kafka = Delivery.StartKafka();
        await using var cluster = await ProcessCluster.Start(silos: 2, gateways: 1, kafka.BootstrapServers);
        using var consumer = EventConsumer.Start(kafka.BootstrapServers, Delivery.Topics);
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

    [Fact]
    public async Task Killing_a_silo_while_its_relay_ships_loses_no_event_of_an_acknowledged_join()
    {
        var ct = TestContext.Current.CancellationToken;
        using var kafka = Delivery.StartKafka();
        await using var cluster = await ProcessCluster.Start(silos: 2, gateways: 1, kafka.BootstrapServers);
        using var consumer = EventConsumer.Start(kafka.BootstrapServers, ["ticketqueue.queue"]);
        var api = new ShopperApi(cluster.Gateways[0]);
        var admin = await api.Admin(ct);
        var eventId = await admin.CreateEvent(rows: 2, seatsPerRow: 10, ct);
        await admin.SetQueue(eventId, new() { ["paused"] = true }, ct);
        var fans = new List<Shopper>();
        for (var i = 0; i < 30; i++)
        {
            fans.Add(await api.Register(ct));
        }

        // Joins stream in; half-way, one silo (and the relay inside it) dies with SIGKILL.
        var acknowledged = new System.Collections.Concurrent.ConcurrentDictionary<string, long>();
        var stream = Task.Run(async () =>
        {
            foreach (var fan in fans)
            {
                var joined = await fan.Join(eventId, ct);
                acknowledged[joined["ticket"]!.GetValue<string>()] = joined["ticketNumber"]!.GetValue<long>();
            }
        }, ct);
        while (acknowledged.Count < fans.Count / 2)
        {
            await Task.Delay(20, ct);
        }

        cluster.Silos[0].Process.Kill();
        await stream.WaitAsync(TimeSpan.FromMinutes(3), ct);

        // Every acknowledged join's event arrives (the survivor's relay takes over the dead one's
        // partitions); a repeat carries the same id.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        List<long> numbers;
        List<ReceivedEvent> joinedEvents;
        while (true)
        {
            joinedEvents = consumer.Received
                .Where(r => r.Event.Type == "ticketqueue.queue.joined.v1" && r.Key.StartsWith(eventId + "/", StringComparison.Ordinal))
                .ToList();
            numbers = [.. joinedEvents.GroupBy(r => r.Event.Id).Select(g => ((System.Text.Json.JsonElement)g.First().Event.Data!).GetProperty("number").GetInt64())];
            if (acknowledged.Values.All(numbers.Contains) || DateTime.UtcNow > deadline)
            {
                break;
            }

            await Task.Delay(250, ct);
        }

        var missing = acknowledged.Values.Except(numbers).Order().ToList();
        Assert.True(missing.Count == 0, $"no joined event for tickets {string.Join(", ", missing)}");

        // A repeat is the same event again, never a second event for the same place.
        var eventsPerNumber = joinedEvents
            .GroupBy(r => ((System.Text.Json.JsonElement)r.Event.Data!).GetProperty("number").GetInt64())
            .ToDictionary(g => g.Key, g => g.Select(r => r.Event.Id).Distinct().Count());
        Assert.All(acknowledged.Values, number => Assert.Equal(1, eventsPerNumber[number]));
    }
}
