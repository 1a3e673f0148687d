using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace TicketQueue.Bench;

/// <summary>The host of an in-process benchmark silo, and the free ports it and other servers listen on.</summary>
public static class BenchSilo
{
    /// <summary>
    /// A host builder configured as the embedded gateway's silo, minus demo events, on free ports (so a
    /// benchmark never collides with a silo or test cluster running on this machine). It logs warnings and
    /// up while <paramref name="quiet"/> says no (the silo's shutdown chatter is not part of a benchmark),
    /// critical errors always. The caller adds its own settings and <c>UseOrleans</c>.
    /// </summary>
    public static HostApplicationBuilder Builder(string clusterId, Func<bool> quiet)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Orleans:ClusterId"] = clusterId,
            ["Orleans:ServiceId"] = clusterId,
            ["Orleans:SiloPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["Orleans:GatewayPort"] = FreePort().ToString(CultureInfo.InvariantCulture),
            ["TicketQueue:SeedDemoData"] = "false",
        });
        // A filter function overrides the minimum level, so it states both.
        builder.Logging.AddConsole().AddFilter((_, _, level) => level >= LogLevel.Critical || (level >= LogLevel.Warning && !quiet()));
        return builder;
    }

    /// <summary>A loopback port nobody listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
