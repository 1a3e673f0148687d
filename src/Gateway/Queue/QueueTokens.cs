using System.Globalization;
using System.Security.Cryptography;
using System.Buffers.Text;
using System.Text;
using Microsoft.Extensions.Options;
using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.Gateway.Queue;

public sealed class QueueTokenOptions
{
    public const string Section = "TicketQueue:Tokens";

    /// <summary>HMAC-SHA256 key for queue tickets and admission tokens; shared by every gateway.</summary>
    public string SigningKey { get; set; } = "";
}

/// <summary>A verified queue ticket: this user holds this place in this event's line.</summary>
public sealed record QueueTicket(string EventId, Guid UserId, QueuePlace Place);

/// <summary>A verified admission: this user may shop this event until <see cref="ExpiresAt"/>.</summary>
public sealed record Admission(string EventId, Guid UserId, DateTimeOffset ExpiresAt);

/// <summary>
/// Signs and verifies what the browser carries: the queue ticket ("qt1|event|user|place") and the
/// admission token ("at1|event|user|expiry"), each as base64url(payload).base64url(HMAC-SHA256).
/// </summary>
public sealed class QueueTokens(IOptions<QueueTokenOptions> options, TimeProvider time)
{
    private readonly byte[] _key = Encoding.UTF8.GetBytes(options.Value.SigningKey);

    public string SignTicket(string eventId, Guid userId, QueuePlace place) =>
        Sign($"qt1|{eventId}|{userId:N}|{(place.PreQueue ? 'p' : 't')}{place.Number.ToString(CultureInfo.InvariantCulture)}");

    public string SignAdmission(string eventId, Guid userId, DateTimeOffset expiresAt) =>
        Sign($"at1|{eventId}|{userId:N}|{expiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}");

    /// <summary>The ticket if it is genuine and belongs to this user and event; otherwise a 403 problem.</summary>
    public QueueTicket VerifyTicket(string? token, string eventId, Guid userId)
    {
        var parts = Open(token, "qt1", "ticket-required", "invalid-ticket", "ticket");
        if (parts[1] != eventId || parts[2] != userId.ToString("N"))
        {
            throw Refused("ticket-mismatch", "This queue ticket belongs to another event or user.", "ticket");
        }

        var kind = parts[3][0];
        if (kind is not ('p' or 't') || !long.TryParse(parts[3].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out var number))
        {
            throw Refused("invalid-ticket", "The queue ticket is not valid.", "ticket");
        }

        return new QueueTicket(eventId, userId, new QueuePlace(kind == 'p', number));
    }

    public Admission VerifyAdmission(string? token, string eventId, Guid userId)
    {
        var parts = Open(token, "at1", "admission-required", "admission-invalid", "X-Admission-Token");
        if (parts[1] != eventId || parts[2] != userId.ToString("N"))
        {
            throw Refused("admission-mismatch", "This admission token was issued for another event or user.", "X-Admission-Token");
        }

        var expiresAt = DateTimeOffset.FromUnixTimeSeconds(long.Parse(parts[3], CultureInfo.InvariantCulture));
        return expiresAt <= time.GetUtcNow()
            ? throw Refused("admission-expired", "The admission token has expired; join the queue again.", "X-Admission-Token")
            : new Admission(eventId, userId, expiresAt);
    }

    private string Sign(string payload)
    {
        var bytes = Encoding.UTF8.GetBytes(payload);
        return $"{Base64Url.EncodeToString(bytes)}.{Base64Url.EncodeToString(HMACSHA256.HashData(_key, bytes))}";
    }

    private string[] Open(string? token, string version, string missingCode, string code, string field)
    {
        if (string.IsNullOrEmpty(token))
        {
            throw Refused(missingCode, $"'{field}' is required.", field);
        }

        var dot = token.IndexOf('.');
        if (token.Length > 512 || dot <= 0
            || !Base64Url.IsValid(token.AsSpan(0, dot)) || !Base64Url.IsValid(token.AsSpan(dot + 1)))
        {
            throw Refused(code, "The token is malformed.", field);
        }

        var payload = Base64Url.DecodeFromChars(token.AsSpan(0, dot));
        var signature = Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
        if (!CryptographicOperations.FixedTimeEquals(signature, HMACSHA256.HashData(_key, payload)))
        {
            throw Refused(code, "The token's signature is not valid.", field);
        }

        var parts = Encoding.UTF8.GetString(payload).Split('|');
        return parts.Length == 4 && parts[0] == version && parts[3].Length > 0
            ? parts
            : throw Refused(code, "The token is not of the expected kind.", field);
    }

    private static DomainException Refused(string code, string detail, string field) =>
        new(DomainErrorKind.Forbidden, code, detail, field);
}
