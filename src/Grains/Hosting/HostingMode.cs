using Microsoft.Extensions.Configuration;

namespace TicketQueue.Grains.Hosting;

/// <summary>How a TicketQueue process finds its cluster and keeps its state (configuration key <c>TicketQueue:Mode</c>).</summary>
public enum HostingMode
{
    /// <summary>One process, no external service: localhost clustering, state and reminders in memory.</summary>
    Embedded,

    /// <summary>Silos and gateways meet in Redis; grain state lives in PostgreSQL; reminders in Redis.</summary>
    Cluster,
}

/// <summary>Reads the cluster settings every process shares, failing at start with a message that names the missing key.</summary>
public static class ClusterSettings
{
    public const string ModeKey = "TicketQueue:Mode";

    public static HostingMode Mode(IConfiguration configuration)
    {
        var value = configuration[ModeKey];
        if (string.IsNullOrWhiteSpace(value))
        {
            return HostingMode.Embedded;
        }

        return Enum.TryParse<HostingMode>(value, ignoreCase: true, out var mode) && Enum.IsDefined(mode)
            ? mode
            : throw new InvalidOperationException($"{ModeKey} is '{value}'; it must be Embedded or Cluster.");
    }

    /// <summary>The Redis connection string (<c>ConnectionStrings:Redis</c>), required in cluster mode.</summary>
    public static string Redis(IConfiguration configuration) => Required(configuration, "Redis");

    /// <summary>The PostgreSQL connection string (<c>ConnectionStrings:Postgres</c>), required by cluster-mode silos.</summary>
    public static string Postgres(IConfiguration configuration) => Required(configuration, "Postgres");

    public static void ConfigureIdentity(Orleans.Configuration.ClusterOptions options, IConfiguration configuration)
    {
        var orleans = configuration.GetSection("Orleans");
        options.ClusterId = orleans["ClusterId"] ?? "ticketqueue";
        options.ServiceId = orleans["ServiceId"] ?? "ticketqueue";
    }

    private static string Required(IConfiguration configuration, string name) =>
        configuration.GetConnectionString(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"{ModeKey} is Cluster, so ConnectionStrings:{name} must be set (environment variable ConnectionStrings__{name}).");
}
