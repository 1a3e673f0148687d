using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TicketQueue.Gateway.Auth;
using TicketQueue.Grains.Abstractions.Accounts;

namespace TicketQueue.Gateway.Tests;

/// <summary>The admin account follows configuration at every start, as a restart with new settings would see it.</summary>
public sealed class AdminSeedingTests
{
    [Fact]
    public async Task A_changed_admin_password_replaces_the_old_one_and_signs_its_sessions_out()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new GatewayFactory();
        var api = new TestApi(factory);
        var (email, oldPassword, oldSession) = await SignInAsAdmin(factory, api, ct);

        // Before, the seeder only created a missing account: a rotated (say, leaked) password stayed valid.
        await Seeder(factory, email, "a-rotated-admin-password").StartAsync(ct);

        await (await Login(api, email, "a-rotated-admin-password", ct)).ShouldBe(HttpStatusCode.OK);
        await (await Login(api, email, oldPassword, ct)).ShouldBeProblem(401, "invalid-credentials");
        await (await api.Refresh(oldSession.RefreshToken, ct)).ShouldBeProblem(401, "invalid-refresh-token");
    }

    [Fact]
    public async Task A_password_change_cut_short_by_a_failure_is_finished_by_the_next_start()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new GatewayFactory();
        var api = new TestApi(factory);
        var (email, oldPassword, oldSession) = await SignInAsAdmin(factory, api, ct);

        // Signing the sessions out fails once (storage out of reach): the start fails.
        var grains = SessionsFailingToRevokeOnce.Wrap(factory.Services.GetRequiredService<IGrainFactory>());
        await Assert.ThrowsAsync<TimeoutException>(() => Seeder(grains, factory, email, "a-rotated-admin-password").StartAsync(ct));

        // The next start must still see work to do. Had the password been changed first, it would find the
        // new password in place and skip the sign-out, and the old sessions would live on.
        await Seeder(factory, email, "a-rotated-admin-password").StartAsync(ct);

        await (await api.Refresh(oldSession.RefreshToken, ct)).ShouldBeProblem(401, "invalid-refresh-token");
        await (await Login(api, email, "a-rotated-admin-password", ct)).ShouldBe(HttpStatusCode.OK);
        await (await Login(api, email, oldPassword, ct)).ShouldBeProblem(401, "invalid-credentials");
    }

    [Fact]
    public async Task An_email_registered_by_an_ordinary_user_does_not_become_an_admin_account()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var factory = new GatewayFactory();
        var api = new TestApi(factory);
        var user = await api.Register(ct);

        await Seeder(factory, user.Email, "configured-admin-password").StartAsync(ct);

        await (await Login(api, user.Email, "configured-admin-password", ct)).ShouldBeProblem(401, "invalid-credentials");
        var own = await Login(api, user.Email, user.Password, ct);
        await own.ShouldBe(HttpStatusCode.OK);
        var session = (await own.Content.ReadFromJsonAsync<TokenPair>(TestApi.Json, ct))!;
        var admin = await api.Authorized(session.AccessToken).GetAsync("/api/admin/cluster", ct);
        await admin.ShouldBeProblem(403, "forbidden");
    }

    private static AdminAccountSeeder Seeder(GatewayFactory factory, string email, string password) =>
        Seeder(factory.Services.GetRequiredService<IGrainFactory>(), factory, email, password);

    private static AdminAccountSeeder Seeder(IGrainFactory grains, GatewayFactory factory, string email, string password) => new(
        grains,
        factory.Services.GetRequiredService<IPasswordHasher<Account>>(),
        factory.Time,
        Options.Create(new AdminOptions { Email = email, Password = password }),
        NullLogger<AdminAccountSeeder>.Instance);

    /// <summary>The configured admin, signed in with the configured password: the session a password change must end.</summary>
    private static async Task<(string Email, string Password, TokenPair Session)> SignInAsAdmin(GatewayFactory factory, TestApi api, CancellationToken ct)
    {
        var email = factory.Setting("TicketQueue:Admin:Email");
        var password = factory.Setting("TicketQueue:Admin:Password");
        var response = await Login(api, email, password, ct);
        await response.ShouldBe(HttpStatusCode.OK);
        return (email, password, (await response.Content.ReadFromJsonAsync<TokenPair>(TestApi.Json, ct))!);
    }

    private static Task<HttpResponseMessage> Login(TestApi api, string email, string password, CancellationToken ct) =>
        api.Anonymous().PostAsJsonAsync("/api/auth/login", new { email, password }, TestApi.Json, ct);
}

/// <summary>The gateway's grain factory, except that the first RevokeAll of a sessions grain it hands out fails.</summary>
public class SessionsFailingToRevokeOnce : DispatchProxy
{
    private IGrainFactory _inner = null!;
    private int _failures = 1;

    public static IGrainFactory Wrap(IGrainFactory inner)
    {
        var proxy = Create<IGrainFactory, SessionsFailingToRevokeOnce>();
        ((SessionsFailingToRevokeOnce)(object)proxy)._inner = inner;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        var result = targetMethod!.Invoke(_inner, args);
        return result is IUserSessionsGrain sessions ? new Sessions(sessions, this) : result;
    }

    private sealed class Sessions(IUserSessionsGrain inner, SessionsFailingToRevokeOnce owner) : IUserSessionsGrain
    {
        public Task Start(Account account, string refreshTokenHash, DateTimeOffset expiresAt) => inner.Start(account, refreshTokenHash, expiresAt);

        public Task<Account?> Rotate(string presentedHash, string newHash, DateTimeOffset newExpiresAt) => inner.Rotate(presentedHash, newHash, newExpiresAt);

        public Task Revoke(string refreshTokenHash) => inner.Revoke(refreshTokenHash);

        public Task RevokeAll() =>
            Interlocked.Decrement(ref owner._failures) >= 0
                ? Task.FromException(new TimeoutException("The sessions' storage did not answer (test)."))
                : inner.RevokeAll();
    }
}
