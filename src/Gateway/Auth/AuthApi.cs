using System.IdentityModel.Tokens.Jwt;
using System.Net.Mail;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using TicketQueue.Gateway.Hosting;
using TicketQueue.Gateway.Problems;
using TicketQueue.Grains.Abstractions.Accounts;

namespace TicketQueue.Gateway.Auth;

public sealed record RegisterRequest(string? Email, string? Password, string? DisplayName);

public sealed record LoginRequest(string? Email, string? Password);

public sealed record RefreshRequest(string? RefreshToken);

public sealed record AccountResponse(Guid UserId, string Email, string DisplayName, IReadOnlyList<string> Roles);

public static class AuthApi
{
    public static IEndpointRouteBuilder MapAuthApi(this IEndpointRouteBuilder routes)
    {
        var auth = routes.MapGroup("/api/auth").WithTags("Auth").RequireRateLimiting(RateLimits.Auth);
        auth.MapPost("/register", Register).ProducesProblem(400).ProducesProblem(409);
        auth.MapPost("/login", Login).ProducesProblem(400).ProducesProblem(401).ProducesProblem(409);
        auth.MapPost("/refresh", Refresh).ProducesProblem(400).ProducesProblem(401);
        auth.MapPost("/logout", Logout).ProducesProblem(400);

        // Where registration's Location points; outside the group, as it is no sign-in attempt.
        routes.MapGet("/api/auth/me", Me).WithTags("Auth").RequireAuthorization().ProducesProblem(401);
        return routes;
    }

    public const int MinPasswordLength = 8;

    public const int MaxPasswordLength = 128;

    private static async Task<Created<TokenPair>> Register(RegisterRequest? body, IGrainFactory grains, TokenService tokens, IPasswordHasher<Account> hasher, TimeProvider time)
    {
        body = Require.NotNull(body, "body");
        var email = ValidEmail(body.Email);
        var password = Require.NotNull(body.Password, "password");
        if (password.Length is < MinPasswordLength or > MaxPasswordLength)
        {
            throw DomainException.Invalid("weak-password", $"The password must be {MinPasswordLength} to {MaxPasswordLength} characters.", "password");
        }

        var displayName = Require.Text(body.DisplayName, "displayName", 50);
        var account = await RegisterAccount(grains, hasher, time, email, password, displayName, roles: [])
            ?? throw DomainException.Conflict("email-taken", "An account with this email exists.", "email");
        return TypedResults.Created("/api/auth/me", await tokens.StartSession(account));
    }

    private static Ok<AccountResponse> Me(ClaimsPrincipal user) => TypedResults.Ok(new AccountResponse(
        user.UserId(),
        user.FindFirstValue(JwtRegisteredClaimNames.Email) ?? "",
        user.FindFirstValue(JwtRegisteredClaimNames.Name) ?? "",
        [.. user.FindAll("role").Select(c => c.Value)]));

    public static async Task<Account?> RegisterAccount(IGrainFactory grains, IPasswordHasher<Account> hasher, TimeProvider time,
        string email, string password, string displayName, IReadOnlyList<string> roles)
    {
        var account = new Account(Guid.NewGuid(), email, displayName, "", roles, time.GetUtcNow());
        account = account with { PasswordHash = hasher.HashPassword(account, password) };
        return await grains.GetGrain<IAccountGrain>(Accounts.KeyFor(email)).Register(account) ? account : null;
    }

    private static async Task<Results<Ok<TokenPair>, ProblemHttpResult>> Login(LoginRequest? body, IGrainFactory grains, TokenService tokens, IPasswordHasher<Account> hasher)
    {
        body = Require.NotNull(body, "body");
        var email = Require.Text(body.Email, "email", 254);
        var password = Require.NotNull(body.Password, "password");
        var account = await grains.GetGrain<IAccountGrain>(Accounts.KeyFor(email)).Get();
        // One answer, and the same hashing work, for a wrong email and a wrong password: neither the
        // body nor the response time tells whether an account exists.
        var checkedAgainst = account ?? UnknownAccount(hasher);
        var verified = hasher.VerifyHashedPassword(checkedAgainst, checkedAgainst.PasswordHash, password);
        if (account is null || password.Length > MaxPasswordLength || verified == PasswordVerificationResult.Failed)
        {
            return Unauthorized("invalid-credentials", "The email or password is wrong.");
        }

        return TypedResults.Ok(await tokens.StartSession(account));
    }

    private static async Task<Results<Ok<TokenPair>, ProblemHttpResult>> Refresh(RefreshRequest? body, TokenService tokens)
    {
        body = Require.NotNull(body, "body");
        var refreshToken = Require.Text(body.RefreshToken, "refreshToken", 200);
        var pair = await tokens.Refresh(refreshToken);
        return pair is null
            ? Unauthorized("invalid-refresh-token", "The refresh token is unknown, expired or already used.")
            : TypedResults.Ok(pair);
    }

    /// <summary>
    /// Signs this device out: its refresh token stops working at once, its access token runs out within
    /// <see cref="AuthOptions.AccessTokenMinutes"/>. The refresh token is the proof, so no access token is
    /// needed (it may have run out already); an unknown or used one is answered the same, as there is
    /// nothing left to end.
    /// </summary>
    private static async Task<NoContent> Logout(RefreshRequest? body, TokenService tokens)
    {
        body = Require.NotNull(body, "body");
        await tokens.EndSession(Require.Text(body.RefreshToken, "refreshToken", 200));
        return TypedResults.NoContent();
    }

    private static string ValidEmail(string? value)
    {
        var email = Require.Text(value, "email", 254, minLength: 3);
        if (!MailAddress.TryCreate(email, out var parsed) || parsed.Address != email || !email.Contains('@'))
        {
            throw DomainException.Invalid("invalid-email", "This is not an email address.", "email");
        }

        return email;
    }

    // A stand-in whose hash costs as much to check as a real one; no password matches it.
    private static Account? _unknownAccount;

    private static Account UnknownAccount(IPasswordHasher<Account> hasher)
    {
        if (_unknownAccount is null)
        {
            var account = new Account(Guid.Empty, "", "", "", [], DateTimeOffset.UnixEpoch);
            _unknownAccount = account with { PasswordHash = hasher.HashPassword(account, Guid.NewGuid().ToString()) };
        }

        return _unknownAccount;
    }

    private static ProblemHttpResult Unauthorized(string code, string detail) =>
        TypedResults.Problem(ProblemExceptionHandler.Create(StatusCodes.Status401Unauthorized, code, detail, null));
}
