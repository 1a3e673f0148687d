using System.Net.Http.Headers;

namespace TicketQueue.Integration.Tests.Infrastructure;

/// <summary>A gateway (src/Gateway) running as its own OS process, and HTTP clients of it.</summary>
public sealed class GatewayProcess(ExternalProcess process, Uri address) : IDisposable
{
    // One connection pool for every client handed out; the clients themselves are cheap.
    private readonly SocketsHttpHandler _handler = new() { PooledConnectionLifetime = TimeSpan.FromMinutes(1) };

    public ExternalProcess Process { get; } = process;

    public Uri Address { get; } = address;

    /// <summary>
    /// Starts the built gateway in its embedded mode (its own silo, nothing external), on free loopback
    /// ports, with <paramref name="settings"/> added to its environment. Dispose it to kill what is left.
    /// </summary>
    public static GatewayProcess StartEmbedded(IReadOnlyDictionary<string, string>? settings = null)
    {
        var port = ExternalProcess.FreePort();
        var dll = RepositoryPaths.Built("Gateway");
        var environment = new Dictionary<string, string>
        {
            ["Urls"] = $"http://127.0.0.1:{port}",
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["DOTNET_ENVIRONMENT"] = "Development",
            ["Orleans__SiloPort"] = ExternalProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orleans__GatewayPort"] = ExternalProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Logging__LogLevel__Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        var process = ExternalProcess.Start("gateway-embedded", "dotnet", [dll], environment, Path.GetDirectoryName(dll));
        return new GatewayProcess(process, new Uri($"http://127.0.0.1:{port}"));
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

    /// <summary>Waits until the gateway reports ready, and fails at once if its process exits first.</summary>
    public async Task WaitUntilReady(TimeSpan timeout)
    {
        using var client = Client();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (Process.HasExited)
            {
                throw new InvalidOperationException($"{Process.Name} exited:\n{Process.Tail()}");
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
                throw new TimeoutException($"{Process.Name} was not ready within {timeout}:\n{Process.Tail()}");
            }

            await Task.Delay(200);
        }
    }

    public void Dispose()
    {
        Process.Dispose();
        _handler.Dispose();
    }
}
