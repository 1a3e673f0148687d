using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using TicketQueue.Grains.Abstractions.Accounts;

namespace TicketQueue.Gateway.Auth;

/// <summary>Creates the admin account from configuration at start, unless it exists.</summary>
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

        var created = await AuthApi.RegisterAccount(grains, hasher, time, admin.Email, admin.Password, admin.DisplayName, [Roles.Admin]);
        if (created is not null)
        {
            logger.LogInformation("Seeded admin account {Email}", admin.Email);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
