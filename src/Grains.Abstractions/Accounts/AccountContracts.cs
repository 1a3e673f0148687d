namespace TicketQueue.Grains.Abstractions.Accounts;

[GenerateSerializer, Immutable, Alias("tq.Account")]
public sealed record Account(
    [property: Id(0)] Guid UserId,
    [property: Id(1)] string Email,
    [property: Id(2)] string DisplayName,
    [property: Id(3)] string PasswordHash,
    [property: Id(4)] IReadOnlyList<string> Roles,
    [property: Id(5)] DateTimeOffset CreatedAt);

/// <summary>An account looked up by its normalized email. The gateway hashes and verifies passwords.</summary>
[Alias("tq.IAccountGrain")]
public interface IAccountGrain : IGrainWithStringKey
{
    /// <summary>Registers the account; false when the email is taken.</summary>
    [Alias("Register")] Task<bool> Register(Account account);

    [Alias("Get")] Task<Account?> Get();

    /// <summary>Replaces the password hash; returns the changed account, or null when there is none.</summary>
    [Alias("SetPasswordHash")] Task<Account?> SetPasswordHash(string passwordHash);
}

/// <summary>Rotating refresh tokens of one user, stored as hashes. A token works once.</summary>
[Alias("tq.IUserSessionsGrain")]
public interface IUserSessionsGrain : IGrainWithGuidKey
{
    [Alias("Start")] Task Start(Account account, string refreshTokenHash, DateTimeOffset expiresAt);

    /// <summary>
    /// Swaps a refresh token for a new one and returns the account. Presenting a token that was already
    /// rotated away revokes every token of the user (someone else has a copy), unless it was rotated
    /// moments ago: then it is only refused (two tabs refreshing at once).
    /// </summary>
    [Alias("Rotate")] Task<Account?> Rotate(string presentedHash, string newHash, DateTimeOffset newExpiresAt);

    /// <summary>
    /// Signs one device out: its refresh token stops working (its access token runs out). Unknown or used
    /// tokens change nothing. Not kept as rotated away, so presenting it later is refused without
    /// signing the user out everywhere (another tab of the same browser may still hold it).
    /// </summary>
    [Alias("Revoke")] Task Revoke(string refreshTokenHash);

    /// <summary>Signs the user out everywhere: every refresh token stops working (access tokens run out).</summary>
    [Alias("RevokeAll")] Task RevokeAll();
}

public static class Accounts
{
    public static string KeyFor(string email) => "email:" + Normalize(email);

    public static string Normalize(string email) => email.Trim().ToUpperInvariant();
}
