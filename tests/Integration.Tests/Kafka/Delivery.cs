using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.DomainEvents;
using TicketQueue.Integration.Tests.Infrastructure;

namespace TicketQueue.Integration.Tests.Kafka;

/// <summary>What a consumer of the relay's topics may rely on, checked against the events recorded.</summary>
public static class Delivery
{
    public static readonly string[] Topics = ["ticketqueue.queue", "ticketqueue.reservation", "ticketqueue.payment"];

    /// <summary>
    /// A mock cluster with the relay's topics already there, as an operator would create them. A consumer
    /// subscribed to a topic that does not exist yet only finds it at its next metadata refresh (five minutes
    /// by default) and then has to rebalance, which librdkafka's mock coordinator can hold up for tens of
    /// seconds: a test consumer would miss events for reasons that have nothing to do with the relay.
    /// </summary>
    public static KafkaMockCluster StartKafka()
    {
        var kafka = KafkaMockCluster.Start();
        foreach (var topic in Topics)
        {
            kafka.CreateTopic(topic, partitions: 4);
        }

        return kafka;
    }

    public static bool AllArrived(IReadOnlyList<DomainEvent> expected, IReadOnlyList<ReceivedEvent> received)
    {
        var ids = received.Select(r => r.Event.Id).ToHashSet();
        return expected.All(e => ids.Contains(e.EventId.ToString()));
    }

    /// <summary>
    /// Every recorded event arrived (no gaps), nothing else did, each message is the event's CloudEvent on
    /// its aggregate's topic under its aggregate's key, and one aggregate's events first arrive in the order
    /// they were recorded. Repeats are allowed (at-least-once) and returned.
    /// </summary>
    public static int AssertAtLeastOnceInOrder(IReadOnlyList<DomainEvent> expected, IReadOnlyList<ReceivedEvent> received)
    {
        var byId = expected.ToDictionary(e => e.EventId.ToString());
        foreach (var message in received)
        {
            Assert.True(byId.TryGetValue(message.Event.Id!, out var recorded), $"received an event nobody recorded: {message.Event.Id}");
            Assert.Equal(recorded.Type, message.Event.Type);
            Assert.Equal(recorded.AggregateId, message.Event.Subject);
            Assert.Equal(recorded.AggregateId, message.Event[CloudEventEnvelope.PartitionKey]);
            Assert.Equal(CloudEventEnvelope.Source, message.Event.Source);
            Assert.Equal(recorded.AggregateId, message.Key);
            Assert.Equal("ticketqueue." + recorded.AggregateType, message.Topic);
            Assert.Equal(CloudEventEnvelope.ContentType, message.ContentType);
        }

        var arrived = received.Select(r => r.Event.Id!).ToHashSet();
        var missing = expected.Where(e => !arrived.Contains(e.EventId.ToString())).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {expected.Count} events never arrived, e.g. {missing.FirstOrDefault()}");

        foreach (var aggregate in expected.GroupBy(e => (e.AggregateType, e.AggregateId)))
        {
            // One key, one partition: the log order of the partition is the order a consumer sees.
            var messages = received.Where(r => r.Key == aggregate.Key.AggregateId && r.Topic == "ticketqueue." + aggregate.Key.AggregateType)
                .OrderBy(r => r.Offset).ToList();
            Assert.Single(messages.Select(m => m.Partition).Distinct());
            var firstArrivals = messages.Select(m => m.Event.Id!).Distinct().ToList();
            Assert.Equal(aggregate.Select(e => e.EventId.ToString()), firstArrivals);
        }

        return received.Count - expected.Count;
    }

    /// <summary>As <see cref="AssertAtLeastOnceInOrder"/>, and no event arrived twice.</summary>
    public static void AssertExactlyOnceInOrder(IReadOnlyList<DomainEvent> expected, IReadOnlyList<ReceivedEvent> received)
    {
        var repeats = AssertAtLeastOnceInOrder(expected, received);
        var twice = received.GroupBy(r => r.Event.Id).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(repeats == 0, $"{repeats} events arrived more than once, e.g. {twice.FirstOrDefault()}");
    }
}
