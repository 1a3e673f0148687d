using System.IdentityModel.Tokens.Jwt;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using TicketQueue.Grains.Abstractions.Accounts;

namespace TicketQueue.Gateway.Auth;

public sealed record TokenPair(string AccessToken, string RefreshToken, int ExpiresIn);

/// <summary>Issues JWT access tokens and opaque rotating refresh tokens ("{userId}.{secret}").</summary>
public sealed class TokenService(IOptions<AuthOptions> options, IGrainFactory grains, TimeProvider time)
{
    private readonly AuthOptions _options = options.Value;

    public static SymmetricSecurityKey KeyFrom(AuthOptions options) => new(Encoding.UTF8.GetBytes(options.SigningKey));

    public async Task<TokenPair> StartSession(Account account)
    {
        var (refresh, hash, expiresAt) = NewRefreshToken(account.UserId);
        await grains.GetGrain<IUserSessionsGrain>(account.UserId).Start(account, hash, expiresAt);
        return new TokenPair(AccessToken(account), refresh, _options.AccessTokenMinutes * 60);
    }

    public async Task<TokenPair?> Refresh(string refreshToken)
    {
        if (OwnerOf(refreshToken) is not { } userId)
        {
            return null;
        }

        var (refresh, hash, expiresAt) = NewRefreshToken(userId);
        var account = await grains.GetGrain<IUserSessionsGrain>(userId).Rotate(Hash(refreshToken), hash, expiresAt);
        return account is null ? null : new TokenPair(AccessToken(account), refresh, _options.AccessTokenMinutes * 60);
    }

    /// <summary>Ends the session the refresh token belongs to; a token that is no session's changes nothing.</summary>
    public async Task EndSession(string refreshToken)
    {
        if (OwnerOf(refreshToken) is { } userId)
        {
            await grains.GetGrain<IUserSessionsGrain>(userId).Revoke(Hash(refreshToken));
        }
    }

    // A refresh token is "{userId:N}.{secret}": the user whose sessions hold its hash, if it is one at all.
    private static Guid? OwnerOf(string refreshToken)
    {
        var dot = refreshToken.IndexOf('.');
        return dot > 0 && Guid.TryParseExact(refreshToken[..dot], "N", out var userId) ? userId : null;
    }

    private string AccessToken(Account account)
    {
        var now = time.GetUtcNow();
        var claims = new List<Claim>
        {
            new(JwtRegisteredClaimNames.Sub, account.UserId.ToString()),
            new(JwtRegisteredClaimNames.Email, account.Email),
            new(JwtRegisteredClaimNames.Name, account.DisplayName),
            new(JwtRegisteredClaimNames.Jti, Guid.NewGuid().ToString("N")),
        };
        claims.AddRange(account.Roles.Select(r => new Claim("role", r)));
        var token = new JwtSecurityToken(
            _options.Issuer, _options.Audience, claims,
            notBefore: now.UtcDateTime, expires: now.UtcDateTime.AddMinutes(_options.AccessTokenMinutes),
            signingCredentials: new SigningCredentials(KeyFrom(_options), SecurityAlgorithms.HmacSha256));
        return new JwtSecurityTokenHandler().WriteToken(token);
    }

    private (string Token, string Hash, DateTimeOffset ExpiresAt) NewRefreshToken(Guid userId)
    {
        var token = $"{userId:N}.{Base64Url(RandomNumberGenerator.GetBytes(32))}";
        return (token, Hash(token), time.GetUtcNow().AddDays(_options.RefreshTokenDays));
    }

    // Only hashes are stored: a leaked store does not leak usable tokens.
    private static string Hash(string token) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

public static class ClaimsExtensions
{
    /// <summary>The caller's user id, from the validated access token's "sub" claim.</summary>
    public static Guid UserId(this ClaimsPrincipal user) =>
        Guid.TryParse(user.FindFirstValue(JwtRegisteredClaimNames.Sub), out var id)
            ? id
            : throw new DomainException(DomainErrorKind.Forbidden, "no-user", "The access token names no user.");
}
