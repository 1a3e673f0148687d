using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace TicketQueue.Gateway.Tests;

/// <summary>
/// The whole gateway with its embedded silo, in memory. Each factory gets its own free silo and gateway
/// ports and its own cluster id, so it never meets a running dev server or another factory.
/// </summary>
public class GatewayFactory : WebApplicationFactory<Program>
{
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(100);

    private readonly Dictionary<string, string?> _settings;
    private readonly Action<IServiceCollection>? _services;

    public GatewayFactory(IReadOnlyDictionary<string, string?>? overrides = null, FakeTimeProvider? clock = null, Action<IServiceCollection>? services = null)
    {
        _services = services;
        var (siloPort, gatewayPort) = FreePorts();
        _settings = new Dictionary<string, string?>
        {
            ["Orleans:SiloPort"] = siloPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orleans:GatewayPort"] = gatewayPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Orleans:ClusterId"] = "test-" + Guid.NewGuid().ToString("N")[..8],
            ["TicketQueue:SeedDemoData"] = "false",
            ["TicketQueue:Queue:TickInterval"] = TickInterval.ToString(),
            // Tests register hundreds of users from one (unknown) address.
            ["TicketQueue:RateLimits:AuthPerMinute"] = "100000",
            ["Logging:LogLevel:Default"] = "Warning",
            // Expected noise: SignalR logs every refused hub call as an error, and when a silo with memory
            // storage stops, the queue grains' last writes fail because the storage grains are gone first.
            ["Logging:LogLevel:Microsoft.AspNetCore.SignalR.Internal.DefaultHubDispatcher"] = "Critical",
            ["Logging:LogLevel:Orleans"] = "Critical",
            ["Logging:LogLevel:Polly"] = "Critical",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>())
        {
            _settings[key] = value;
        }

        Clock = clock;
    }

    /// <summary>The clock every service and grain reads, when the test drives time by hand.</summary>
    public FakeTimeProvider? Clock { get; }

    public TimeProvider Time => Clock ?? TimeProvider.System;

    public string Setting(string key) => Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>()[key]
        ?? throw new InvalidOperationException($"{key} is not configured.");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        // Host settings reach Program from the start; it reads the silo ports before the app is built.
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }

        builder.ConfigureTestServices(services =>
        {
            // PBKDF2 at the production cost makes registering hundreds of users take most of a minute.
            services.Configure<PasswordHasherOptions>(o => o.IterationCount = 1_000);
            if (Clock is not null)
            {
                // Registered last, so it wins over TimeProvider.System; the embedded silo shares this container.
                services.AddSingleton<TimeProvider>(Clock);
            }

            _services?.Invoke(services);
        });
    }

    public override async ValueTask DisposeAsync()
    {
        if (Clock is null)
        {
            await base.DisposeAsync();
            return;
        }

        // Orleans waits on grain timers during shutdown, and on a stopped fake clock that adds some ten
        // seconds to every run. Keep the clock moving while the host stops.
        using var stopped = new CancellationTokenSource();
        var ticking = Task.Run(async () =>
        {
            while (!stopped.IsCancellationRequested)
            {
                Clock.Advance(TimeSpan.FromSeconds(1));
                await Task.Delay(10, CancellationToken.None);
            }
        }, CancellationToken.None);
        await base.DisposeAsync();
        await stopped.CancelAsync();
        await ticking;
    }

    private static (int Silo, int Gateway) FreePorts()
    {
        // Both listeners stay open until both ports are read, so the two differ.
        using var silo = new TcpListener(IPAddress.Loopback, 0);
        using var gateway = new TcpListener(IPAddress.Loopback, 0);
        silo.Start();
        gateway.Start();
        return (((IPEndPoint)silo.LocalEndpoint).Port, ((IPEndPoint)gateway.LocalEndpoint).Port);
    }
}

/// <summary>A started gateway shared by the tests of one collection.</summary>
public class GatewayFixture : IAsyncLifetime
{
    public GatewayFixture()
        : this(new GatewayFactory())
    {
    }

    protected GatewayFixture(GatewayFactory factory)
    {
        Factory = factory;
        Api = new TestApi(factory);
    }

    public GatewayFactory Factory { get; }

    public TestApi Api { get; }

    public virtual ValueTask InitializeAsync()
    {
        // Starts the host: the silo, the admin seeder and the test server.
        _ = Factory.Server;
        return ValueTask.CompletedTask;
    }

    public virtual async ValueTask DisposeAsync() => await Factory.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayFixture>
{
    public const string Name = "gateway";
}
