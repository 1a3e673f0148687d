using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using TicketQueue.Grains.Abstractions.Accounts;

namespace TicketQueue.Gateway.Auth;

/// <summary>
/// Makes the admin account match configuration at start: creates it, or gives it the configured password
/// when that changed (an operator rotating a leaked password), signing the old one's sessions out.
/// </summary>
public sealed class AdminAccountSeeder(IGrainFactory grains, IPasswordHasher<Account> hasher, TimeProvider time, IOptions<AdminOptions> options, ILogger<AdminAccountSeeder> logger)
    : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var admin = options.Value;
        if (string.IsNullOrEmpty(admin.Password))
        {
            logger.LogInformation("No admin password configured (TicketQueue:Admin:Password); no admin account seeded.");
            return;
        }

        var accounts = grains.GetGrain<IAccountGrain>(Accounts.KeyFor(admin.Email));
        var existing = await accounts.Get();
        if (existing is null)
        {
            if (await AuthApi.RegisterAccount(grains, hasher, time, admin.Email, admin.Password, admin.DisplayName, [Roles.Admin]) is not null)
            {
                logger.LogInformation("Seeded admin account {Email}", admin.Email);
                return;
            }

            // Another gateway seeded it in the meantime, with the same configuration.
            existing = await accounts.Get() ?? throw new InvalidOperationException($"The admin account {admin.Email} can neither be created nor read.");
        }

        if (!existing.Roles.Contains(Roles.Admin))
        {
            // Someone registered this email as an ordinary user (while no admin password was set): it is
            // theirs, and it does not become an admin account.
            logger.LogError("{Email} is registered as an ordinary account; no admin account exists. Configure another TicketQueue:Admin:Email.", admin.Email);
            return;
        }

        if (hasher.VerifyHashedPassword(existing, existing.PasswordHash, admin.Password) == PasswordVerificationResult.Failed)
        {
            // Sessions go first: if a step fails the start fails, and the next start still sees the old
            // password and does both again. (Password first, a failed revoke would never be retried.) A
            // second revoke covers a sign-in with the old password between the two.
            var sessions = grains.GetGrain<IUserSessionsGrain>(existing.UserId);
            await sessions.RevokeAll();
            await accounts.SetPasswordHash(hasher.HashPassword(existing, admin.Password));
            await sessions.RevokeAll();
            logger.LogWarning("The admin password of {Email} changed in configuration: the account takes it, and its sessions are signed out", admin.Email);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
