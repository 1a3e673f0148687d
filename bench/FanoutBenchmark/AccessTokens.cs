using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace TicketQueue.FanoutBenchmark;

/// <summary>
/// Mints the gateway's access tokens (JWT, HS256, issuer and audience "ticketqueue", the user id in "sub",
/// "role" for the admin) with the signing key the benchmark gave the gateway. Joining and following need
/// no account, so thousands of users cost no registration and no password hashing.
/// </summary>
public sealed class AccessTokens(string signingKey)
{
    private const string Issuer = "ticketqueue";
    private static readonly string Header = Encode(new { alg = "HS256", typ = "JWT" });

    private readonly byte[] _key = Encoding.UTF8.GetBytes(signingKey);

    /// <summary>A token for the user, valid long enough for any run; an admin token also carries the admin role.</summary>
    public string For(Guid userId, bool admin = false)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = admin
            ? Encode(new { sub = userId.ToString(), iss = Issuer, aud = Issuer, iat = now, nbf = now - 60, exp = now + 6 * 3600, role = "admin" })
            : Encode(new { sub = userId.ToString(), iss = Issuer, aud = Issuer, iat = now, nbf = now - 60, exp = now + 6 * 3600 });
        var signed = $"{Header}.{payload}";
        return $"{signed}.{Base64Url.EncodeToString(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(signed)))}";
    }

    private static string Encode<T>(T value) => Base64Url.EncodeToString(JsonSerializer.SerializeToUtf8Bytes(value));
}
