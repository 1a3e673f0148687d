using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using TicketQueue.Gateway.Auth;

namespace TicketQueue.Gateway.Hosting;

public static class StartupBanner
{
    public static void Print(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var admin = app.Services.GetRequiredService<IOptions<AdminOptions>>().Value;
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("TicketQueue");
        logger.LogInformation("TicketQueue is listening on {Urls}", string.Join(", ", addresses));
        logger.LogInformation("API description: {Url}/openapi/v1.json", addresses.FirstOrDefault());
        if (app.Environment.IsDevelopment() && !string.IsNullOrEmpty(admin.Password))
        {
            logger.LogInformation("Development admin: {Email} / {Password} (set TicketQueue__Admin__Password to change)", admin.Email, admin.Password);
        }
    }
}
