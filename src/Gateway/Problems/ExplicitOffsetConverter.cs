using System.Text.Json;
using System.Text.Json.Serialization;

namespace TicketQueue.Gateway.Problems;

/// <summary>A date and time sent without "Z" or an offset: it would be read in the server's own time zone.</summary>
public sealed class MissingOffsetException(string message) : JsonException(message);

/// <summary>
/// Dates and times in requests must say their offset ("2030-06-01T20:00:00+09:00" or "...Z"): without one,
/// System.Text.Json reads them in the server's local time zone, so one request would mean different
/// instants on gateways in different zones. Written as before (ISO 8601 with the offset).
/// </summary>
public sealed class ExplicitOffsetConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var value = reader.GetDateTimeOffset();
        var text = reader.GetString()!;
        var time = text.IndexOf('T', StringComparison.Ordinal);
        var offset = time < 0 ? -1 : text.IndexOfAny(['Z', 'z', '+', '-'], time);
        if (offset < 0)
        {
            throw new MissingOffsetException($"'{text}' has no UTC offset.");
        }

        return value;
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value);
}
