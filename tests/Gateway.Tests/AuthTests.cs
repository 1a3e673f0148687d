using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using TicketQueue.Gateway.Hosting;
using TicketQueue.Gateway.Auth;
using TicketQueue.Grains.Accounts;

namespace TicketQueue.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class AuthTests(GatewayFixture fixture)
{
    private TestApi Api => fixture.Api;

    [Fact]
    public async Task Refresh_rotates_the_token_and_refuses_the_old_one()
    {
        var ct = TestContext.Current.CancellationToken;
        var user = await Api.Register(ct);

        var rotated = await Refresh(user.Tokens.RefreshToken, ct);
        await rotated.ShouldBe(HttpStatusCode.OK);
        var pair = (await rotated.Content.ReadFromJsonAsync<TokenPair>(TestApi.Json, ct))!;
        Assert.NotEqual(user.Tokens.RefreshToken, pair.RefreshToken);
        var withNewAccessToken = await Api.Authorized(pair.AccessToken).GetAsync("/api/reservations", ct);
        await withNewAccessToken.ShouldBe(HttpStatusCode.OK);

        var reused = await Refresh(user.Tokens.RefreshToken, ct);
        await reused.ShouldBeProblem(401, "invalid-refresh-token");
    }

    [Fact]
    public async Task Login_with_a_wrong_password_is_401_and_says_no_more_than_an_unknown_email()
    {
        var ct = TestContext.Current.CancellationToken;
        var user = await Api.Register(ct);

        var wrongPassword = await Api.Anonymous().PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = "not the password" }, TestApi.Json, ct);
        var wrongProblem = await wrongPassword.ShouldBeProblem(401, "invalid-credentials");

        var unknownEmail = await Api.Anonymous().PostAsJsonAsync("/api/auth/login", new { email = "nobody-" + user.Email, password = "not the password" }, TestApi.Json, ct);
        var unknownProblem = await unknownEmail.ShouldBeProblem(401, "invalid-credentials");
        Assert.Equal(wrongProblem.GetProperty("detail").GetString(), unknownProblem.GetProperty("detail").GetString());

        var right = await Api.Anonymous().PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, TestApi.Json, ct);
        await right.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Registering_a_taken_email_is_409_whatever_its_case()
    {
        var ct = TestContext.Current.CancellationToken;
        var user = await Api.Register(ct);

        var again = await Api.Anonymous().PostAsJsonAsync("/api/auth/register", new { email = user.Email, password = "another password", displayName = "Twin" }, TestApi.Json, ct);
        await again.ShouldBeProblem(409, "email-taken", "email");

        var shouted = await Api.Anonymous().PostAsJsonAsync("/api/auth/register", new { email = user.Email.ToUpperInvariant(), password = "another password", displayName = "Twin" }, TestApi.Json, ct);
        await shouted.ShouldBeProblem(409, "email-taken", "email");
    }

    [Fact]
    public async Task Registering_answers_with_the_location_of_the_new_account()
    {
        var ct = TestContext.Current.CancellationToken;
        var email = $"user-{Guid.NewGuid():N}@example.com";
        var registered = await Api.Anonymous().PostAsJsonAsync("/api/auth/register", new { email, password = "long enough", displayName = "Newcomer" }, TestApi.Json, ct);
        await registered.ShouldBe(HttpStatusCode.Created);
        var tokens = (await registered.Content.ReadFromJsonAsync<TokenPair>(TestApi.Json, ct))!;

        var account = await Api.Authorized(tokens.AccessToken).GetAsync(registered.Headers.Location, ct);
        await account.ShouldBe(HttpStatusCode.OK);
        var me = (await account.Content.ReadFromJsonAsync<AccountResponse>(TestApi.Json, ct))!;
        Assert.Equal(email, me.Email);
        Assert.Equal("Newcomer", me.DisplayName);
        Assert.Empty(me.Roles);
    }

    [Fact]
    public async Task Logging_out_ends_that_devices_session_on_the_server_and_no_other()
    {
        var ct = TestContext.Current.CancellationToken;
        var user = await Api.Register(ct);
        var otherDevice = await Api.Anonymous().PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, TestApi.Json, ct);
        await otherDevice.ShouldBe(HttpStatusCode.OK);
        var otherPair = (await otherDevice.Content.ReadFromJsonAsync<TokenPair>(TestApi.Json, ct))!;

        await (await Logout(user.Tokens.RefreshToken, ct)).ShouldBe(HttpStatusCode.NoContent);

        // Before, logging out only forgot the tokens in the browser: a copy of the refresh token went on
        // minting access tokens for 14 days.
        await (await Refresh(user.Tokens.RefreshToken, ct)).ShouldBeProblem(401, "invalid-refresh-token");
        await (await Refresh(otherPair.RefreshToken, ct)).ShouldBe(HttpStatusCode.OK);

        // Nothing left to end is answered the same: a second click, a token that is no session's.
        await (await Logout(user.Tokens.RefreshToken, ct)).ShouldBe(HttpStatusCode.NoContent);
        await (await Logout("garbage", ct)).ShouldBe(HttpStatusCode.NoContent);
        await (await Logout($"{user.UserId:N}.never-issued", ct)).ShouldBe(HttpStatusCode.NoContent);
    }

    private Task<HttpResponseMessage> Refresh(string refreshToken, CancellationToken ct) => Api.Refresh(refreshToken, ct);

    private Task<HttpResponseMessage> Logout(string refreshToken, CancellationToken ct) =>
        Api.Anonymous().PostAsJsonAsync("/api/auth/logout", new { refreshToken }, TestApi.Json, ct);
}

/// <summary>Reuse of a rotated refresh token, with the clock in the test's hand.</summary>
public sealed class RefreshTokenReuseTests(FakeClockFixture fixture) : IClassFixture<FakeClockFixture>
{
    private TestApi Api => fixture.Api;

    [Fact]
    public async Task Reusing_a_rotated_refresh_token_after_the_grace_revokes_the_new_one_too()
    {
        var ct = TestContext.Current.CancellationToken;
        var user = await Api.Register(ct);
        var rotated = await Api.Refresh(user.Tokens.RefreshToken, ct);
        await rotated.ShouldBe(HttpStatusCode.OK);
        var pair = (await rotated.Content.ReadFromJsonAsync<TokenPair>(TestApi.Json, ct))!;
        fixture.Clock.Advance(UserSessionsGrain.ReuseGrace + TimeSpan.FromSeconds(1));

        // Someone replays the stolen, long rotated token...
        await (await Api.Refresh(user.Tokens.RefreshToken, ct)).ShouldBeProblem(401, "invalid-refresh-token");

        // ...so the legitimate holder of the newest token is signed out as well.
        await (await Api.Refresh(pair.RefreshToken, ct)).ShouldBeProblem(401, "invalid-refresh-token");
    }

    [Fact]
    public async Task A_logged_out_token_presented_after_the_reuse_grace_does_not_sign_the_user_out_elsewhere()
    {
        var ct = TestContext.Current.CancellationToken;
        var user = await Api.Register(ct);
        var otherDevice = await Api.Anonymous().PostAsJsonAsync("/api/auth/login", new { email = user.Email, password = user.Password }, TestApi.Json, ct);
        var otherPair = (await otherDevice.Content.ReadFromJsonAsync<TokenPair>(TestApi.Json, ct))!;
        await (await Api.Anonymous().PostAsJsonAsync("/api/auth/logout", new { refreshToken = user.Tokens.RefreshToken }, TestApi.Json, ct))
            .ShouldBe(HttpStatusCode.NoContent);
        // Past the grace, a rotated token presented again is taken for a stolen copy and ends every session.
        fixture.Clock.Advance(UserSessionsGrain.ReuseGrace + TimeSpan.FromSeconds(1));

        // Another tab of the same browser still held the logged-out one: refused, but not taken for a stolen copy.
        await (await Api.Refresh(user.Tokens.RefreshToken, ct)).ShouldBeProblem(401, "invalid-refresh-token");
        await (await Api.Refresh(otherPair.RefreshToken, ct)).ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Two_tabs_refreshing_with_the_same_token_at_once_keep_the_user_signed_in()
    {
        var ct = TestContext.Current.CancellationToken;
        var user = await Api.Register(ct);

        var answers = await Task.WhenAll(Api.Refresh(user.Tokens.RefreshToken, ct), Api.Refresh(user.Tokens.RefreshToken, ct));

        // One tab rotates, the other is refused (it then reads the rotated token the first one stored)...
        var statuses = answers.Select(a => (int)a.StatusCode).Order().ToList();
        Assert.Equal([200, 401], statuses);
        var winner = (await answers.Single(a => a.StatusCode == HttpStatusCode.OK).Content.ReadFromJsonAsync<TokenPair>(TestApi.Json, ct))!;

        // ...and the rotated token still works: before, the loser's request revoked it as if stolen.
        await (await Api.Refresh(winner.RefreshToken, ct)).ShouldBe(HttpStatusCode.OK);
    }
}

/// <summary>A gateway that allows three sign-in attempts a minute.</summary>
public sealed class StrictRateLimitFixture() : GatewayFixture(new GatewayFactory(new Dictionary<string, string?>
{
    ["TicketQueue:RateLimits:AuthPerMinute"] = "3",
}));

public sealed class AuthRateLimitTests(StrictRateLimitFixture fixture) : IClassFixture<StrictRateLimitFixture>
{
    [Fact]
    public async Task Too_many_sign_in_attempts_are_answered_429_with_a_problem()
    {
        var ct = TestContext.Current.CancellationToken;
        var client = fixture.Api.Anonymous();
        var login = new { email = "nobody@example.com", password = "whatever it is" };

        for (var i = 0; i < 3; i++)
        {
            await (await client.PostAsJsonAsync("/api/auth/login", login, TestApi.Json, ct)).ShouldBeProblem(401, "invalid-credentials");
        }

        var refused = await client.PostAsJsonAsync("/api/auth/login", login, TestApi.Json, ct);
        await refused.ShouldBeProblem(429, "too-many-requests");

        // The limit covers every auth route, registration included.
        var register = await client.PostAsJsonAsync("/api/auth/register", new { email = "new@example.com", password = "long enough", displayName = "New" }, TestApi.Json, ct);
        await register.ShouldBeProblem(429, "too-many-requests");
    }
}

/// <summary>
/// Three sign-in attempts a minute, a load balancer on 10.0.0.0/8, and the peer address of each request
/// taken from a test header (the test server has no sockets).
/// </summary>
public sealed class ProxiedRateLimitFixture() : GatewayFixture(new GatewayFactory(new Dictionary<string, string?>
{
    ["TicketQueue:RateLimits:AuthPerMinute"] = "3",
    ["TicketQueue:Proxies:KnownNetworks:0"] = "10.0.0.0/8",
}, services: s => s.AddSingleton<IStartupFilter, PeerFromHeader>()))
{
    public const string PeerHeader = "X-Test-Peer";

    private sealed class PeerFromHeader : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((http, following) =>
            {
                if (http.Request.Headers[PeerHeader] is [{ } peer])
                {
                    http.Connection.RemoteIpAddress = IPAddress.Parse(peer);
                }

                return following(http);
            });
            next(app);
        };
    }
}

public sealed class ClientAddressRateLimitTests(ProxiedRateLimitFixture fixture) : IClassFixture<ProxiedRateLimitFixture>
{
    [Fact]
    public async Task Behind_a_trusted_load_balancer_each_forwarded_client_has_its_own_budget()
    {
        var ct = TestContext.Current.CancellationToken;

        // Before, every client behind the balancer shared its one budget of three.
        for (var client = 1; client <= 4; client++)
        {
            await (await Login("10.0.0.5", $"198.51.100.{client}", ct)).ShouldBeProblem(401, "invalid-credentials");
        }

        for (var attempt = 2; attempt <= 3; attempt++)
        {
            await (await Login("10.0.0.5", "198.51.100.1", ct)).ShouldBeProblem(401, "invalid-credentials");
        }

        await (await Login("10.0.0.5", "198.51.100.1", ct)).ShouldBeProblem(429, "too-many-requests");
    }

    [Fact]
    public async Task A_forwarded_address_from_a_peer_that_is_no_known_proxy_is_ignored()
    {
        var ct = TestContext.Current.CancellationToken;

        for (var attempt = 1; attempt <= 3; attempt++)
        {
            await (await Login("203.0.113.7", $"192.0.2.{attempt}", ct)).ShouldBeProblem(401, "invalid-credentials");
        }

        await (await Login("203.0.113.7", "192.0.2.200", ct)).ShouldBeProblem(429, "too-many-requests");
    }

    [Fact]
    public async Task The_addresses_of_one_IPv6_64_share_one_budget()
    {
        var ct = TestContext.Current.CancellationToken;

        // Before, each of a subscriber's 2^64 addresses had a budget of its own.
        for (var host = 1; host <= 3; host++)
        {
            await (await Login($"2001:db8:1:2::{host}", null, ct)).ShouldBeProblem(401, "invalid-credentials");
        }

        await (await Login("2001:db8:1:2::4", null, ct)).ShouldBeProblem(429, "too-many-requests");
        await (await Login("2001:db8:1:3::1", null, ct)).ShouldBeProblem(401, "invalid-credentials");
    }

    [Theory]
    [InlineData("192.0.2.10", "192.0.2.10")]
    [InlineData("::ffff:192.0.2.10", "192.0.2.10")]
    [InlineData("2001:db8:a:b:c:d:e:f", "2001:db8:a:b::/64")]
    public void A_client_is_counted_by_its_IPv4_address_or_its_IPv6_64(string address, string key)
    {
        Assert.Equal(key, RateLimits.ClientKey(IPAddress.Parse(address)));
    }

    private Task<HttpResponseMessage> Login(string peer, string? forwardedFor, CancellationToken ct)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/login")
        {
            Content = JsonContent.Create(new { email = "nobody@example.com", password = "whatever it is" }, options: TestApi.Json),
        };
        request.Headers.Add(ProxiedRateLimitFixture.PeerHeader, peer);
        if (forwardedFor is not null)
        {
            request.Headers.Add("X-Forwarded-For", forwardedFor);
        }

        return fixture.Api.Anonymous().SendAsync(request, ct);
    }
}
