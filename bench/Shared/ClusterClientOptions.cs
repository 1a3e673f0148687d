using System.Globalization;

namespace TicketQueue.Bench;

/// <summary>
/// The command line of <c>--cluster-client</c> mode, shared by both benchmarks: which cluster to call, and
/// which of its processes to watch for CPU and memory while measuring.
/// </summary>
public sealed record ClusterClientOptions(
    string? Redis,
    string ClusterId,
    string ServiceId,
    IReadOnlyList<int> SiloPids,
    int? PostgresPid,
    int? RedisPid)
{
    public const string Flag = "--cluster-client";

    public const string Usage =
        """
          --cluster-client   host no silo: act as an Orleans client (like a cluster-mode gateway) of silos already
                             running in cluster mode, found through the Redis membership table; every grain call
                             goes over the network. bench/cluster.sh starts such a cluster and runs this mode
          --redis CS         the cluster's Redis (StackExchange.Redis configuration string), required by --cluster-client
          --cluster-id ID    the silos' Orleans:ClusterId (default ticketqueue)
          --service-id ID    the silos' Orleans:ServiceId (default ticketqueue)
          --silo-pids P,P    process ids of the silos: their CPU and resident memory (VmRSS) are reported
          --postgres-pid P   process id of the PostgreSQL server (postmaster): its CPU, backends included, is reported
          --redis-pid P      process id of redis-server: its CPU is reported
        """;

    public static ClusterClientOptions Default { get; } = new(null, "ticketqueue", "ticketqueue", [], null, null);

    /// <summary>These options with one of those in <see cref="Usage"/> (other than the flag) applied; null if the name is none of them.</summary>
    public ClusterClientOptions? With(string name, string value) => name switch
    {
        "--redis" => this with { Redis = value },
        "--cluster-id" => this with { ClusterId = NonEmpty(name, value) },
        "--service-id" => this with { ServiceId = NonEmpty(name, value) },
        "--silo-pids" => this with
        {
            SiloPids = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => Pid(name, p))],
        },
        "--postgres-pid" => this with { PostgresPid = Pid(name, value) },
        "--redis-pid" => this with { RedisPid = Pid(name, value) },
        _ => null,
    };

    /// <summary>Fails unless the options fit the mode: a Redis with the flag, none of the options without it.</summary>
    public void Validate(bool clusterClient)
    {
        if (clusterClient && string.IsNullOrWhiteSpace(Redis))
        {
            throw new ArgumentException($"{Flag} needs --redis \"<connection string>\".");
        }

        if (!clusterClient && (Redis is not null || ClusterId != Default.ClusterId || ServiceId != Default.ServiceId
            || SiloPids.Count > 0 || PostgresPid is not null || RedisPid is not null))
        {
            throw new ArgumentException($"--redis, --cluster-id, --service-id and the --*-pid options are only used with {Flag}.");
        }
    }

    private static string NonEmpty(string name, string value) =>
        value.Length > 0 ? value : throw new ArgumentException($"{name} must not be empty.");

    private static int Pid(string name, string value) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 0
            ? pid
            : throw new ArgumentException($"{name} must be process ids (positive integers), not '{value}'.");
}
