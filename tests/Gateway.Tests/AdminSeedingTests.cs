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
        var email = factory.Setting("TicketQueue:Admin:Email");
        var oldPassword = factory.Setting("TicketQueue:Admin:Password");
        var before = await Login(api, email, oldPassword, ct);
        await before.ShouldBe(HttpStatusCode.OK);
        var oldSession = (await before.Content.ReadFromJsonAsync<TokenPair>(TestApi.Json, ct))!;

        // Before, the seeder only created a missing account: a rotated (say, leaked) password stayed valid.
        await Seeder(factory, email, "a-rotated-admin-password").StartAsync(ct);

        await (await Login(api, email, "a-rotated-admin-password", ct)).ShouldBe(HttpStatusCode.OK);
        await (await Login(api, email, oldPassword, ct)).ShouldBeProblem(401, "invalid-credentials");
        await (await api.Refresh(oldSession.RefreshToken, ct)).ShouldBeProblem(401, "invalid-refresh-token");
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

    private static AdminAccountSeeder Seeder(GatewayFactory factory, string email, string password) => new(
        factory.Services.GetRequiredService<IGrainFactory>(),
        factory.Services.GetRequiredService<IPasswordHasher<Account>>(),
        factory.Time,
        Options.Create(new AdminOptions { Email = email, Password = password }),
        NullLogger<AdminAccountSeeder>.Instance);

    private static Task<HttpResponseMessage> Login(TestApi api, string email, string password, CancellationToken ct) =>
        api.Anonymous().PostAsJsonAsync("/api/auth/login", new { email, password }, TestApi.Json, ct);
}
