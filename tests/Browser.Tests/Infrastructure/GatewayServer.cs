using System.Globalization;
using System.Security.Cryptography;

namespace TicketQueue.Browser.Tests.Infrastructure;

/// <summary>
/// The built gateway (src/Gateway) as its own OS process in its default embedded mode: one process
/// hosting the silo too, in-memory storage, no external services. It runs as Production does, so the
/// pages are served the way a visitor gets them, on a free loopback port.
/// </summary>
public sealed class GatewayServer : IAsyncLifetime
{
    /// <summary>The admin account the gateway seeds at start (TicketQueue:Admin).</summary>
    public const string AdminEmail = "admin@ticketqueue.local";

    public const string AdminPassword = "browser-tests-admin-password";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    private GatewayProcess? _gateway;

    public Uri Address { get; private set; } = null!;

    /// <summary>HTTP calls as a client of the API makes them: register, sign in, create events, join queues.</summary>
    public Api Api => new(this);

    public async ValueTask InitializeAsync()
    {
        var dll = RepositoryPaths.Built("Gateway");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} is missing: build the solution first (dotnet build TicketQueue.sln -c {RepositoryPaths.Configuration}).");
        }

        var port = ExternalProcess.FreePort();
        Address = new Uri($"http://127.0.0.1:{port}");
        var environment = new Dictionary<string, string>
        {
            ["Urls"] = Address.ToString().TrimEnd('/'),
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
            // The embedded silo's own ports, free ones, so that a gateway started by hand or another test run does not collide.
            ["Orleans__SiloPort"] = Port(),
            ["Orleans__GatewayPort"] = Port(),
            // Production refuses the development signing keys of appsettings.json.
            ["TicketQueue__Auth__SigningKey"] = Secret(),
            ["TicketQueue__Tokens__SigningKey"] = Secret(),
            ["TicketQueue__Admin__Email"] = AdminEmail,
            ["TicketQueue__Admin__Password"] = AdminPassword,
            // Every test registers its own users from the same address.
            ["TicketQueue__RateLimits__AuthPerMinute"] = "100000",
        };

        _gateway = new GatewayProcess(ExternalProcess.Start("gateway", "dotnet", [dll], environment, Path.GetDirectoryName(dll)), Address);
        await _gateway.WaitUntilReady(StartTimeout);
    }

    /// <summary>A client of the gateway, signed in when given an access token. Dispose it; the connections stay pooled.</summary>
    public HttpClient Client(string? accessToken = null) => Gateway.Client(accessToken);

    /// <summary>The last lines the gateway printed, for a failure message.</summary>
    public string Tail(int lines = 40) => _gateway?.Process.Tail(lines) ?? "(the gateway was not started)";

    private GatewayProcess Gateway => _gateway ?? throw new InvalidOperationException("The gateway was not started.");

    public ValueTask DisposeAsync()
    {
        _gateway?.Dispose();
        return ValueTask.CompletedTask;
    }

    private static string Port() => ExternalProcess.FreePort().ToString(CultureInfo.InvariantCulture);

    private static string Secret() => Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
}
