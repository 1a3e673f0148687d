using TicketQueue.Grains.Abstractions.Accounts;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Grains.Accounts;

[GenerateSerializer, Alias("tq.AccountState")]
public sealed class AccountState
{
    [Id(0)] public Account? Account { get; set; }
}

public sealed class AccountGrain(
    [PersistentState("account", StorageNames.Accounts)] IPersistentState<AccountState> state)
    : Grain, IAccountGrain
{
    public async Task<bool> Register(Account account)
    {
        if (state.State.Account is not null)
        {
            return false;
        }

        state.State.Account = account;
        await this.WriteOrLeave(state);
        return true;
    }

    public Task<Account?> Get() => Task.FromResult(state.State.Account);

    public async Task<Account?> SetPasswordHash(string passwordHash)
    {
        if (state.State.Account is not { } account)
        {
            return null;
        }

        state.State.Account = account with { PasswordHash = passwordHash };
        await this.WriteOrLeave(state);
        return state.State.Account;
    }
}

[GenerateSerializer, Alias("tq.UserSessionsState")]
public sealed class UserSessionsState
{
    [Id(0)] public Account? Account { get; set; }
    [Id(1)] public Dictionary<string, DateTimeOffset> Active { get; set; } = [];

    /// <summary>Recently rotated-away tokens: seeing one again means a stolen copy is in use.</summary>
    [Id(2)] public List<string> Retired { get; set; } = [];

    /// <summary>When tokens were rotated away, for those rotated within <see cref="UserSessionsGrain.ReuseGrace"/>.</summary>
    [Id(3)] public Dictionary<string, DateTimeOffset> RotatedAt { get; set; } = [];
}

public sealed class UserSessionsGrain(
    [PersistentState("sessions", StorageNames.Accounts)] IPersistentState<UserSessionsState> state,
    TimeProvider time)
    : Grain, IUserSessionsGrain
{
    private const int MaxSessions = 20;
    private const int RetiredKept = 100;

    /// <summary>
    /// A rotated-away token presented again this soon is two tabs refreshing at once, or a retry whose
    /// answer was lost: it is refused, but does not sign the user out everywhere. Later, it is a stolen copy.
    /// </summary>
    public static readonly TimeSpan ReuseGrace = TimeSpan.FromSeconds(30);

    public async Task Start(Account account, string refreshTokenHash, DateTimeOffset expiresAt)
    {
        // A sign-in checked the password against the account as it read it. If the password has changed
        // since (the admin seeder rotating it, on another gateway), this session must not outlive the
        // change. Checked here, where the rotation's "sign out everywhere" also runs, one call at a time:
        // a session started before the new password is stored is revoked by it, one started after is refused.
        if (await GrainFactory.GetGrain<IAccountGrain>(Abstractions.Accounts.Accounts.KeyFor(account.Email)).Get() is { } stored
            && stored.PasswordHash != account.PasswordHash)
        {
            throw DomainException.Conflict("credentials-changed", "The password changed while you were signing in; sign in again with the new one.");
        }

        state.State.Account = account;
        Prune();
        if (state.State.Active.Count >= MaxSessions)
        {
            // The oldest device is signed out rather than the store growing without bound.
            var oldest = state.State.Active.MinBy(kv => kv.Value).Key;
            state.State.Active.Remove(oldest);
        }

        state.State.Active[refreshTokenHash] = expiresAt;
        await this.WriteOrLeave(state);
    }

    public async Task<Account?> Rotate(string presentedHash, string newHash, DateTimeOffset newExpiresAt)
    {
        if (state.State.Account is null)
        {
            return null;
        }

        var now = time.GetUtcNow();
        foreach (var (hash, at) in state.State.RotatedAt)
        {
            if (now - at >= ReuseGrace)
            {
                state.State.RotatedAt.Remove(hash);
            }
        }

        if (state.State.Active.Remove(presentedHash, out var expiresAt) && expiresAt > now)
        {
            state.State.Active[newHash] = newExpiresAt;
            state.State.Retired.Add(presentedHash);
            state.State.RotatedAt[presentedHash] = now;
            if (state.State.Retired.Count > RetiredKept)
            {
                state.State.Retired.RemoveAt(0);
            }

            await this.WriteOrLeave(state);
            return state.State.Account;
        }

        if (state.State.Retired.Contains(presentedHash) && !state.State.RotatedAt.ContainsKey(presentedHash))
        {
            // Reuse of a rotated token: revoke the whole family.
            state.State.Active.Clear();
            await this.WriteOrLeave(state);
        }

        return null;
    }

    public async Task Revoke(string refreshTokenHash)
    {
        if (state.State.Active.Remove(refreshTokenHash))
        {
            await this.WriteOrLeave(state);
        }
    }

    public async Task RevokeAll()
    {
        if (state.State.Active.Count == 0)
        {
            return;
        }

        state.State.Active.Clear();
        await this.WriteOrLeave(state);
    }

    private void Prune()
    {
        var now = time.GetUtcNow();
        foreach (var (hash, expiresAt) in state.State.Active)
        {
            if (expiresAt <= now)
            {
                state.State.Active.Remove(hash);
            }
        }
    }
}
