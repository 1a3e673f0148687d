using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.DomainEvents.Relay;

namespace TicketQueue.Grains.Tests.DomainEvents;

public sealed class OutboxRelayOptionsTests
{
    private static OutboxRelayOptions WithProducer(string property, string value)
    {
        var options = new OutboxRelayOptions();
        options.Kafka.BootstrapServers = "127.0.0.1:1";
        options.Kafka.Producer[property] = value;
        return options;
    }

    [Theory]
    [InlineData("no.such.property", "1")]
    [InlineData("security.protocol", "carrier-pigeon")]
    [InlineData("batch.num.messages", "many")]
    public void A_producer_property_librdkafka_refuses_is_a_problem_at_start(string property, string value)
    {
        // Before, it surfaced only when the relay built its producer, and then as a warning every round.
        var problem = Assert.Single(WithProducer(property, value).Problems());

        Assert.StartsWith("TicketQueue:Events:Kafka:Producer is not a valid librdkafka producer configuration:", problem, StringComparison.Ordinal);
        Assert.Contains(property, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Valid_producer_properties_are_no_problem_and_the_guarantees_stay()
    {
        var options = WithProducer("linger.ms", "5");
        options.Kafka.Producer["acks"] = "1";

        Assert.Empty(options.Problems());
        var config = options.ProducerConfig();
        Assert.Equal(Confluent.Kafka.Acks.All, config.Acks);
        Assert.True(config.EnableIdempotence);
        Assert.Equal(5, config.LingerMs);
    }

    [Theory]
    [InlineData(nameof(OutboxRelayOptions.RetainPublished))]
    [InlineData(nameof(OutboxRelayOptions.RetainUnshipped))]
    [InlineData(nameof(OutboxRelayOptions.PruneInterval))]
    [InlineData(nameof(OutboxRelayOptions.MaxBackoff))]
    public void A_retention_or_interval_of_zero_is_a_problem_at_start(string name)
    {
        var options = new OutboxRelayOptions();
        typeof(OutboxRelayOptions).GetProperty(name)!.SetValue(options, TimeSpan.Zero);

        var problem = Assert.Single(options.Problems());

        Assert.StartsWith($"TicketQueue:Events:{name} must be positive", problem, StringComparison.Ordinal);
        Assert.Contains("(is 00:00:00", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(nameof(OutboxRelayOptions.RetainPublished))]
    [InlineData(nameof(OutboxRelayOptions.RetainUnshipped))]
    public void A_retention_PostgreSQL_cannot_subtract_from_now_is_a_problem_at_start(string name)
    {
        // now() - 10675199 days is before 4713 BC, where PostgreSQL's timestamps end: every prune would fail.
        var options = new OutboxRelayOptions();
        typeof(OutboxRelayOptions).GetProperty(name)!.SetValue(options, TimeSpan.MaxValue);

        var problem = Assert.Single(options.Problems());

        Assert.Equal($"TicketQueue:Events:{name} must be positive and at most 3653 days (is {TimeSpan.MaxValue}).", problem);
    }

    [Fact]
    public void A_bare_number_read_as_days_is_a_problem_at_start()
    {
        // "PollInterval": "200" meant 200 ms to whoever wrote it; .NET reads it as 200 days.
        var options = new OutboxRelayOptions { PollInterval = TimeSpan.FromDays(200) };

        var problem = Assert.Single(options.Problems());

        Assert.Equal("TicketQueue:Events:PollInterval must be positive and at most 00:01:00 (is 200.00:00:00; a bare number is read as days, write hh:mm:ss).", problem);
    }

    [Theory]
    [InlineData("Reservation")]
    [InlineData("reservations")]
    public void A_topic_for_no_aggregate_type_is_a_problem_at_start(string type)
    {
        // Before, it was ignored, and the type's events went to the default topic.
        var options = new OutboxRelayOptions { Topics = { [type] = "shop.reservations" } };

        var problem = Assert.Single(options.Problems());

        Assert.Equal($"TicketQueue:Events:Topics has '{type}', which is no aggregate type (known: queue, reservation, payment; names are case-sensitive).", problem);
    }

    [Theory]
    [InlineData("ticket queue.")]
    [InlineData("ticketqueue/")]
    public void A_topic_name_Kafka_refuses_is_a_problem_at_start(string prefix)
    {
        var options = new OutboxRelayOptions { TopicPrefix = prefix };

        Assert.Equal(OutboxRelayOptions.AggregateTypes.Count, options.Problems().Count(p => p.Contains("is not one Kafka accepts", StringComparison.Ordinal)));
    }

    [Fact]
    public void The_known_aggregate_types_are_those_of_the_domain_events()
    {
        var declared = typeof(DomainEvent).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(DomainEvent)) && !t.IsAbstract)
            .Select(t => ((DomainEvent)System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(t)).AggregateType)
            .Distinct().Order();

        Assert.Equal(OutboxRelayOptions.AggregateTypes.Order(), declared);
    }

    [Fact]
    public void The_defaults_keep_published_events_and_without_Kafka_unshipped_ones_a_week_and_are_no_problem()
    {
        var options = new OutboxRelayOptions();

        Assert.Equal(TimeSpan.FromDays(7), options.RetainPublished);
        Assert.Equal(TimeSpan.FromDays(7), options.RetainUnshipped);
        Assert.Empty(options.Problems());
    }
}
