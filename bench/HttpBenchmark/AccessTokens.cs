using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace TicketQueue.HttpBenchmark;

/// <summary>
/// Access tokens minted with the gateway's signing key, with the claims its TokenService puts in one (sub,
/// email, name, jti; role for the admin), so they cost the gateway what a real user's token costs. A user
/// needs no account to join a queue: the join reads only the token's "sub", so no user is registered.
/// </summary>
public sealed class AccessTokens
{
    public const string Issuer = "ticketqueue";
    public const string Audience = "ticketqueue";

    private const int ChunkSize = 10_000;

    private readonly SigningCredentials _credentials;
    private readonly DateTime _issuedAt;
    private readonly JsonWebTokenHandler _handler = new();

    public AccessTokens(string signingKey)
    {
        SigningKey = signingKey;
        _credentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(signingKey)), SecurityAlgorithms.HmacSha256);
        // Every token shares its times: with fixed-width claims all tokens then have the same length, which
        // lets each wrk thread seek to its share of the file.
        _issuedAt = DateTime.UtcNow.AddSeconds(-5);
    }

    public string SigningKey { get; }

    /// <summary>A random key of the gateway's minimum length or more.</summary>
    public static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));

    public string Admin() => Mint(Guid.NewGuid(), "admin@ticketqueue.local", "Administrator", admin: true);

    /// <summary>Writes tokens for users 0..count-1, one a line; returns the bytes per line, newline included.</summary>
    public int WriteFile(string path, int count)
    {
        var recordLength = 0;
        using var file = new StreamWriter(path, append: false, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false)) { NewLine = "\n" };
        var chunk = new string[ChunkSize];
        for (var start = 0; start < count; start += ChunkSize)
        {
            var size = Math.Min(ChunkSize, count - start);
            Parallel.For(0, size, i => chunk[i] = User(start + i));
            for (var i = 0; i < size; i++)
            {
                if (recordLength == 0)
                {
                    recordLength = chunk[i].Length + 1;
                }
                else if (chunk[i].Length + 1 != recordLength)
                {
                    throw new InvalidOperationException($"Token {start + i} is {chunk[i].Length} characters, not {recordLength - 1}: the file must have lines of one length.");
                }

                file.WriteLine(chunk[i]);
            }
        }

        return recordLength;
    }

    /// <summary>User number <paramref name="index"/>: a fresh random id, and fixed-width email and name.</summary>
    public string User(int index)
    {
        var number = index.ToString("D8", CultureInfo.InvariantCulture);
        return Mint(Guid.NewGuid(), $"user{number}@bench.ticketqueue.local", $"Bench user {number}", admin: false);
    }

    private string Mint(Guid userId, string email, string name, bool admin)
    {
        var claims = new Dictionary<string, object>
        {
            [JwtRegisteredClaimNames.Sub] = userId.ToString(),
            [JwtRegisteredClaimNames.Email] = email,
            [JwtRegisteredClaimNames.Name] = name,
            [JwtRegisteredClaimNames.Jti] = Guid.NewGuid().ToString("N"),
        };
        if (admin)
        {
            claims["role"] = "admin";
        }

        return _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer,
            Audience = Audience,
            Claims = claims,
            IssuedAt = _issuedAt,
            NotBefore = _issuedAt,
            // Longer than the gateway's 15 minutes: a full run with its warm-ups takes several.
            Expires = _issuedAt.AddHours(2),
            SigningCredentials = _credentials,
        });
    }
}
