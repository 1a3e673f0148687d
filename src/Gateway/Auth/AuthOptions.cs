namespace TicketQueue.Gateway.Auth;

public sealed class AuthOptions
{
    public const string Section = "TicketQueue:Auth";

    /// <summary>Prefix of the development defaults in appsettings.json; refused outside Development.</summary>
    public const string DevelopmentMarker = "DEVELOPMENT-ONLY";

    public string Issuer { get; set; } = "ticketqueue";
    public string Audience { get; set; } = "ticketqueue";

    /// <summary>HMAC-SHA256 key for access tokens, at least 32 bytes.</summary>
    public string SigningKey { get; set; } = "";
    public int AccessTokenMinutes { get; set; } = 15;
    public int RefreshTokenDays { get; set; } = 14;
}

public sealed class AdminOptions
{
    public const string Section = "TicketQueue:Admin";

    public string Email { get; set; } = "admin@ticketqueue.local";
    public string Password { get; set; } = "";
    public string DisplayName { get; set; } = "Administrator";
}

public static class Roles
{
    public const string Admin = "admin";
    public const string AdminPolicy = "admin";
}
