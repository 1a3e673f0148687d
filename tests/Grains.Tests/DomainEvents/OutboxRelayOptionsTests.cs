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
    [InlineData(nameof(OutboxRelayOptions.PruneInterval))]
    [InlineData(nameof(OutboxRelayOptions.MaxBackoff))]
    public void A_retention_or_interval_of_zero_is_a_problem_at_start(string name)
    {
        var options = new OutboxRelayOptions();
        typeof(OutboxRelayOptions).GetProperty(name)!.SetValue(options, TimeSpan.Zero);

        var problem = Assert.Single(options.Problems());

        Assert.Equal($"TicketQueue:Events:{name} must be positive (is 00:00:00).", problem);
    }

    [Fact]
    public void The_defaults_keep_published_events_a_week_and_are_no_problem()
    {
        var options = new OutboxRelayOptions();

        Assert.Equal(TimeSpan.FromDays(7), options.RetainPublished);
        Assert.Empty(options.Problems());
    }
}
