using System.Security.Claims;
using System.Text;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.IdentityModel.Tokens;
using StackExchange.Redis;

// The waiting room many teams hand-roll, as the yardstick for the gateway's join (bench/HttpBenchmark):
// the same access tokens checked the same way as the gateway does, then one Redis sorted set per event,
// scored by arrival time. A join is ZADD NX (a second join keeps the first arrival) and ZRANK (the place
// in line). Settings use the gateway's names: TicketQueue__Auth__SigningKey, plus Baseline__Redis.

var builder = WebApplication.CreateBuilder(args);
var auth = builder.Configuration.GetSection("TicketQueue:Auth");
var signingKey = auth["SigningKey"] ?? "";
if (signingKey.Length < 32)
{
    throw new InvalidOperationException("TicketQueue:Auth:SigningKey must be set to a secret of at least 32 characters.");
}

// The gateway's validation parameters (src/Gateway/Hosting/GatewayHosting.cs), so a token it accepts is
// accepted here and costs the same to check.
builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer(o =>
{
    o.MapInboundClaims = false;
    o.TokenValidationParameters = new TokenValidationParameters
    {
        ValidIssuer = auth["Issuer"],
        ValidAudience = auth["Audience"],
        IssuerSigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(signingKey)),
        NameClaimType = "sub",
        RoleClaimType = "role",
        ClockSkew = TimeSpan.FromSeconds(30),
    };
});
builder.Services.AddAuthorization();
var redisConfiguration = builder.Configuration["Baseline:Redis"]
    ?? throw new InvalidOperationException("Baseline:Redis must name the redis-server, e.g. 127.0.0.1:6379.");
builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redisConfiguration));

var app = builder.Build();
// Connect before the first request, so the first join does not pay for it.
app.Services.GetRequiredService<IConnectionMultiplexer>();
app.UseAuthentication();
app.UseAuthorization();
app.MapGet("/health/live", () => "Healthy");
app.MapPost("/api/events/{eventId}/queue", Join).RequireAuthorization();
app.Run();

static async Task<Results<Ok<JoinResponse>, UnauthorizedHttpResult>> Join(string eventId, ClaimsPrincipal user, IConnectionMultiplexer redis)
{
    if (!Guid.TryParse(user.FindFirstValue("sub"), out var userId))
    {
        return TypedResults.Unauthorized();
    }

    var database = redis.GetDatabase();
    RedisKey key = $"queue:{eventId}";
    RedisValue member = userId.ToString("N");
    var arrivedAtMicroseconds = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / TimeSpan.TicksPerMicrosecond;
    // Sent back to back on the one multiplexed connection, which Redis serves in order: ZRANK sees the
    // ZADD, and a join costs one round trip rather than two (the stronger version of this design).
    var add = database.SortedSetAddAsync(key, member, arrivedAtMicroseconds, SortedSetWhen.NotExists);
    var rank = database.SortedSetRankAsync(key, member);
    await add;
    var zeroBasedRank = await rank ?? throw new InvalidOperationException($"ZRANK found no {member} right after ZADD.");
    return TypedResults.Ok(new JoinResponse(zeroBasedRank + 1));
}

/// <summary>The place in line, 1 for the first to arrive.</summary>
internal sealed record JoinResponse(long Position);
