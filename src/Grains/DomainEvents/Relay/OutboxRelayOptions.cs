using Confluent.Kafka;

namespace TicketQueue.Grains.DomainEvents.Relay;

/// <summary>
/// The outbox relay and its lag alarm (configuration section <c>TicketQueue:Events</c>). The relay is off
/// while <see cref="OutboxKafkaOptions.BootstrapServers"/> is empty.
/// </summary>
/// <remarks>
/// <see cref="Partitions"/> must be the same on every silo of a cluster: it decides which relay ships which
/// aggregate. A relay that sees another one configured with a different value ships nothing until they
/// agree, so change it by restarting every silo.
/// </remarks>
public sealed class OutboxRelayOptions
{
    public const string SectionName = "TicketQueue:Events";

    public OutboxKafkaOptions Kafka { get; set; } = new();

    /// <summary>An aggregate type's topic is this prefix and the type, e.g. <c>ticketqueue.reservation</c>.</summary>
    public string TopicPrefix { get; set; } = "ticketqueue.";

    /// <summary>Topic names by aggregate type, where the prefix rule does not fit.</summary>
    public Dictionary<string, string> Topics { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Outbox rows read per round, at most.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>
    /// The outbox is split into this many partitions by a hash of the aggregate id; each partition is
    /// shipped by one relay at a time.
    /// </summary>
    public int Partitions { get; set; } = 16;

    /// <summary>The oldest unshipped event may be this old before the outbox counts as unhealthy.</summary>
    public int LagAlertSeconds { get; set; } = 30;

    /// <summary>How long the relay waits before looking again when a round found less than a full batch.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How often a relay tries to take partitions nobody ships, or hands over more than its share.</summary>
    public TimeSpan OwnershipInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often the lag gauges are measured.</summary>
    public TimeSpan LagInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The first wait after a failed round; each further failure doubles it, up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a published event stays in <c>common.outbox_events</c> before its relay deletes it (to look
    /// at or replay by hand). While Kafka is configured, unpublished events are never deleted.
    /// </summary>
    public TimeSpan RetainPublished { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// Without Kafka (no relay will ever ship them), how long an event stays in <c>common.outbox_events</c>
    /// before the silos delete it, so the table does not grow for good. Ignored while Kafka is configured.
    /// </summary>
    public TimeSpan RetainUnshipped { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// How often a relay deletes the published events of its partitions that are past <see cref="RetainPublished"/>
    /// (without Kafka: how often each silo deletes the events past <see cref="RetainUnshipped"/>).
    /// </summary>
    public TimeSpan PruneInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The longest retention: PostgreSQL's timestamps end long before <see cref="TimeSpan.MaxValue"/> does.</summary>
    public static readonly TimeSpan MaxRetention = TimeSpan.FromDays(3653);

    public bool RelayEnabled => !string.IsNullOrWhiteSpace(Kafka.BootstrapServers);

    /// <summary>The aggregate types whose events the outbox holds (<c>DomainEvent.AggregateType</c>; a test keeps the two in step).</summary>
    public static readonly IReadOnlyList<string> AggregateTypes = ["queue", "reservation", "payment"];

    private static bool IsTopicName(string topic) =>
        topic.Length is >= 1 and <= 249 && topic is not ("." or "..") && topic.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    public string TopicFor(string aggregateType) =>
        Topics.TryGetValue(aggregateType, out var topic) && topic.Length > 0 ? topic : TopicPrefix + aggregateType;

    /// <summary>What is wrong with these options, or nothing.</summary>
    public IEnumerable<string> Problems()
    {
        if (BatchSize is < 1 or > 10_000)
        {
            yield return $"{SectionName}:BatchSize must be between 1 and 10000 (is {BatchSize}).";
        }

        if (Partitions is < 1 or > 1024)
        {
            yield return $"{SectionName}:Partitions must be between 1 and 1024 (is {Partitions}).";
        }

        if (LagAlertSeconds < 1)
        {
            yield return $"{SectionName}:LagAlertSeconds must be positive (is {LagAlertSeconds}).";
        }

        // Upper bounds catch a bare number, which .NET reads as days ("200" is 200 days, not milliseconds).
        foreach (var (name, value, max) in new[]
        {
            ("PollInterval", PollInterval, TimeSpan.FromMinutes(1)), ("OwnershipInterval", OwnershipInterval, TimeSpan.FromMinutes(5)),
            ("LagInterval", LagInterval, TimeSpan.FromMinutes(5)), ("InitialBackoff", InitialBackoff, TimeSpan.FromMinutes(10)),
            ("MaxBackoff", MaxBackoff, TimeSpan.FromMinutes(10)), ("Kafka:DeliveryTimeout", Kafka.DeliveryTimeout, TimeSpan.FromHours(1)),
            ("RetainPublished", RetainPublished, MaxRetention), ("RetainUnshipped", RetainUnshipped, MaxRetention),
            ("PruneInterval", PruneInterval, TimeSpan.FromDays(1)),
        })
        {
            if (value <= TimeSpan.Zero || value > max)
            {
                yield return max == MaxRetention
                    ? $"{SectionName}:{name} must be positive and at most {max.TotalDays} days (is {value})."
                    : $"{SectionName}:{name} must be positive and at most {max} (is {value}; a bare number is read as days, write hh:mm:ss).";
            }
        }

        foreach (var type in Topics.Keys.Where(type => !AggregateTypes.Contains(type, StringComparer.Ordinal)))
        {
            yield return $"{SectionName}:Topics has '{type}', which is no aggregate type (known: {string.Join(", ", AggregateTypes)}; names are case-sensitive).";
        }

        foreach (var topic in AggregateTypes.Select(TopicFor).Where(topic => !IsTopicName(topic)))
        {
            yield return $"{SectionName}: the topic name '{topic}' is not one Kafka accepts (1 to 249 of a-z, A-Z, 0-9, '.', '_', '-').";
        }

        if (RelayEnabled && Kafka.DeliveryTimeout > TimeSpan.Zero && ProducerConfigProblem() is { } producer)
        {
            yield return producer;
        }
    }

    /// <summary>
    /// The producer settings the relay uses: the operator's properties, then the guarantees the outbox
    /// relies on (idempotence, acks from all replicas, at most 5 in flight), which cannot be changed.
    /// </summary>
    public ProducerConfig ProducerConfig()
    {
        var config = new ProducerConfig(new Dictionary<string, string>(Kafka.Producer))
        {
            BootstrapServers = Kafka.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            MaxInFlight = 5,
            MessageTimeoutMs = (int)Kafka.DeliveryTimeout.TotalMilliseconds,
        };
        config.ClientId ??= "ticketqueue-outbox-relay";
        return config;
    }

    // librdkafka checks its properties when a client is made (it connects later): make one and let it go,
    // so a misspelt or malformed property stops the silo at start, not at the relay's first round.
    private string? ProducerConfigProblem()
    {
        try
        {
            using var producer = new ProducerBuilder<byte[], byte[]>(ProducerConfig()).Build();
            return null;
        }
        catch (Exception e) when (e is ArgumentException or KafkaException or InvalidOperationException)
        {
            return $"{SectionName}:Kafka:Producer is not a valid librdkafka producer configuration: {e.Message}";
        }
    }
}

/// <summary>Where the relay produces to (<c>TicketQueue:Events:Kafka</c>).</summary>
public sealed class OutboxKafkaOptions
{
    /// <summary>Comma-separated <c>host:port</c> list; empty turns the relay off.</summary>
    public string BootstrapServers { get; set; } = "";

    /// <summary>
    /// How long a message may wait for the broker's acknowledgement (librdkafka <c>message.timeout.ms</c>).
    /// After it the round fails and its unacknowledged rows go again after a back-off.
    /// </summary>
    public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Further librdkafka producer properties, e.g. <c>security.protocol</c>, <c>sasl.mechanism</c>,
    /// <c>linger.ms</c>. The delivery guarantees (idempotence, acks, in-flight limit) cannot be changed here.
    /// </summary>
    public Dictionary<string, string> Producer { get; set; } = new(StringComparer.Ordinal);
}
