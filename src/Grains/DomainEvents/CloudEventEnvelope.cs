using System.Text.Json;
using System.Text.Json.Serialization;
using CloudNative.CloudEvents;
using CloudNative.CloudEvents.SystemTextJson;
using TicketQueue.Grains.Abstractions.DomainEvents;

namespace TicketQueue.Grains.DomainEvents;

/// <summary>
/// Domain events as CloudEvents 1.0 in structured JSON (docs/events.md): <c>id</c> the event id,
/// <c>type</c> the versioned type name, <c>source</c> this service, <c>subject</c> and the
/// <c>partitionkey</c> extension the aggregate id, <c>time</c> when it happened, <c>data</c> the
/// event's own fields in camelCase JSON.
/// </summary>
public static class CloudEventEnvelope
{
    public static readonly Uri Source = new("urn:ticketqueue");

    public const string ContentType = "application/cloudevents+json";

    /// <summary>The CloudEvents extension that carries the aggregate id (the Kafka key).</summary>
    public static readonly CloudEventAttribute PartitionKey = CloudEventAttribute.CreateExtension("partitionkey", CloudEventAttributeType.String);

    /// <summary>The CloudEvents extension that names the aggregate type (the topic).</summary>
    public static readonly CloudEventAttribute AggregateType = CloudEventAttribute.CreateExtension("aggregatetype", CloudEventAttributeType.String);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    private static readonly JsonEventFormatter Formatter = new(Json, new JsonDocumentOptions());

    private static readonly HashSet<string> EnvelopeFields = [nameof(DomainEvent.EventId), nameof(DomainEvent.OccurredAt),
        nameof(DomainEvent.Type), nameof(DomainEvent.AggregateType), nameof(DomainEvent.AggregateId)];

    /// <summary>The event's structured CloudEvent, as the bytes that go to the outbox and to Kafka.</summary>
    public static byte[] Encode(DomainEvent e)
    {
        var cloudEvent = new CloudEvent(CloudEventsSpecVersion.V1_0, [PartitionKey, AggregateType])
        {
            Id = e.EventId.ToString(),
            Type = e.Type,
            Source = Source,
            Subject = e.AggregateId,
            Time = e.OccurredAt,
            DataContentType = "application/json",
            Data = Data(e),
            [PartitionKey] = e.AggregateId,
            [AggregateType] = e.AggregateType,
        };
        return Formatter.EncodeStructuredModeMessage(cloudEvent, out _).ToArray();
    }

    /// <summary>Reads back an envelope written by <see cref="Encode"/>.</summary>
    public static CloudEvent Decode(ReadOnlyMemory<byte> bytes) =>
        Formatter.DecodeStructuredModeMessage(bytes, new System.Net.Mime.ContentType(ContentType), [PartitionKey, AggregateType]);

    // The event's own fields: everything but what the envelope already says.
    private static JsonElement Data(DomainEvent e)
    {
        var all = JsonSerializer.SerializeToElement(e, e.GetType(), Json);
        var data = new Dictionary<string, JsonElement>();
        foreach (var property in all.EnumerateObject())
        {
            if (!EnvelopeFields.Contains(property.Name, StringComparer.OrdinalIgnoreCase))
            {
                data[property.Name] = property.Value;
            }
        }

        return JsonSerializer.SerializeToElement(data, Json);
    }
}
