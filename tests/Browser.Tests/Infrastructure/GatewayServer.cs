using System.Globalization;
using System.Net.Http.Headers;
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

    // One connection pool for every client handed out; the clients themselves are cheap.
    private readonly SocketsHttpHandler _handler = new() { PooledConnectionLifetime = TimeSpan.FromMinutes(1) };
    private ExternalProcess? _process;

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

        _process = ExternalProcess.Start("gateway", "dotnet", [dll], environment, Path.GetDirectoryName(dll));
        await WaitUntilReady();
    }

    /// <summary>A client of the gateway, signed in when given an access token. Dispose it; the connections stay pooled.</summary>
    public HttpClient Client(string? accessToken = null)
    {
        var client = new HttpClient(_handler, disposeHandler: false) { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(30) };
        if (accessToken is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        }

        return client;
    }

    /// <summary>The last lines the gateway printed, for a failure message.</summary>
    public string Tail(int lines = 40) => _process?.Tail(lines) ?? "(the gateway was not started)";

    private async Task WaitUntilReady()
    {
        using var client = Client();
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException($"The gateway exited while starting:\n{Tail()}");
            }

            try
            {
                using var response = await client.GetAsync("/health/ready");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The gateway was not ready within {StartTimeout}:\n{Tail()}");
            }

            await Task.Delay(200);
        }
    }

    public ValueTask DisposeAsync()
    {
        _process?.Dispose();
        _handler.Dispose();
        return ValueTask.CompletedTask;
    }

    private static string Port() => ExternalProcess.FreePort().ToString(CultureInfo.InvariantCulture);

    private static string Secret() => Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
}
