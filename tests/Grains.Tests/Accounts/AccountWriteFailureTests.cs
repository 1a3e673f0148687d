using TicketQueue.Grains.Abstractions.Accounts;

namespace TicketQueue.Grains.Tests.Accounts;

/// <summary>
/// An account or session change whose write failed must not be answered from memory afterwards: the
/// next call sees what storage holds.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class AccountWriteFailureTests(ClusterFixture fixture)
{
    [Fact]
    public async Task A_registration_whose_write_failed_can_be_retried_and_is_then_stored()
    {
        var email = $"{Guid.NewGuid():N}@example.com";
        var grain = fixture.Grains.GetGrain<IAccountGrain>(TicketQueue.Grains.Abstractions.Accounts.Accounts.KeyFor(email));
        var account = NewAccount(email);

        using (fixture.StorageFaults.FailWrites((stateName, _, _) => stateName == "account"))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => grain.Register(account));
        }

        // Before, the unstored account stayed in memory: the retry was told "email taken", sign-in worked
        // until the grain was deactivated, and then the account was gone.
        Assert.Null(await grain.Get());
        Assert.True(await grain.Register(account));
        await fixture.Cluster.DeactivateAsync(grain);
        Assert.Equal(account.UserId, (await grain.Get())?.UserId);
    }

    [Fact]
    public async Task A_rotation_whose_write_failed_leaves_the_presented_token_working()
    {
        var account = NewAccount($"{Guid.NewGuid():N}@example.com");
        var sessions = fixture.Grains.GetGrain<IUserSessionsGrain>(account.UserId);
        var expires = fixture.Clock.GetUtcNow().AddDays(1);
        await sessions.Start(account, "first", expires);

        using (fixture.StorageFaults.FailWrites((stateName, _, _) => stateName == "sessions"))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => sessions.Rotate("first", "second", expires));
        }

        // The client never got "second"; its retry with "first" must rotate, not find it retired in memory.
        Assert.Equal(account.UserId, (await sessions.Rotate("first", "third", expires))?.UserId);
        Assert.Equal(account.UserId, (await sessions.Rotate("third", "fourth", expires))?.UserId);
    }

    [Fact]
    public async Task A_session_started_from_a_password_that_has_since_changed_is_refused()
    {
        var email = $"{Guid.NewGuid():N}@example.com";
        var accountGrain = fixture.Grains.GetGrain<IAccountGrain>(TicketQueue.Grains.Abstractions.Accounts.Accounts.KeyFor(email));
        var account = NewAccount(email);
        await accountGrain.Register(account);
        var sessions = fixture.Grains.GetGrain<IUserSessionsGrain>(account.UserId);
        var expires = fixture.Clock.GetUtcNow().AddDays(1);

        // A sign-in read the account and checked the old password; meanwhile the admin seeder on another
        // gateway set a new one and signed everyone out. Before, the sign-in's session began afterwards
        // and lived on for 14 days with the old password.
        await accountGrain.SetPasswordHash("the-new-hash");
        await sessions.RevokeAll();
        var refused = await Assert.ThrowsAsync<DomainException>(() => sessions.Start(account, "stale", expires));

        Assert.Equal("credentials-changed", refused.Code);
        Assert.Null(await sessions.Rotate("stale", "next", expires));
        await sessions.Start(account with { PasswordHash = "the-new-hash" }, "fresh", expires);
        Assert.NotNull(await sessions.Rotate("fresh", "after-fresh", expires));
    }

    private static Account NewAccount(string email) =>
        new(Guid.NewGuid(), email, "Test", "not-a-real-hash", ["user"], DateTimeOffset.UnixEpoch);
}
