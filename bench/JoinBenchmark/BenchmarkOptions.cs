using static TicketQueue.Bench.CommandLine;
using TicketQueue.Bench;

namespace TicketQueue.JoinBenchmark;

/// <summary>Where the silo keeps grain state and queue records during the benchmark.</summary>
public enum BenchmarkStorage
{
    /// <summary>As AddTicketQueue configures an embedded silo: in-memory grain storage and queue records.</summary>
    Memory,

    /// <summary>Nothing is kept anywhere: a diagnostic that shows the grains' own state alone.</summary>
    Discard,

    /// <summary>The cluster stack's storage: grain state and queue records in PostgreSQL.</summary>
    Postgres,
}

/// <summary>What the command line asked for. Unknown arguments are an error, not a silent default.</summary>
public sealed record BenchmarkOptions(
    int Users,
    int Concurrency,
    int WarmupUsers,
    int? VerifySample,
    BenchmarkStorage Storage,
    string? Postgres,
    int? TicketBlock,
    int Seed,
    bool ClusterClient,
    ClusterClientOptions Cluster,
    IReadOnlyList<int>? Sizes,
    bool RedisBaseline,
    string? ResultFile)
{
    /// <summary>What runs with no size given: the three sizes of the issue, each in a fresh process.</summary>
    public static readonly IReadOnlyList<int> DefaultSizes = [10_000, 100_000, 1_000_000];

    public const string Usage =
        """
        Usage: dotnet run -c Release --project bench/JoinBenchmark -- [options]
          --sizes N,N,...    one run per size, each in a fresh process (this program again, with --users N), then one
                             table of them all, the Redis sorted-set baseline for the same sizes, and the charts
                             docs/performance/grain-memory.png and grain-joins.png. The default when neither --sizes nor
                             --users is given: 10000,100000,1000000 (not with --cluster-client)
          --redis-baseline measure|cite
                             measure: start a throwaway redis-server (from PATH) on a free loopback port and measure
                             used_memory (INFO memory) per member of one sorted set filled by ZADD NX with the same
                             number of user ids; cite: plot the commonly cited figure instead (default measure; falls
                             back to cite when redis-server cannot be started)
          --users N          one run: joins into one event, each by a distinct random user (default with
                             --cluster-client: 100000)
          --concurrency C    joins in flight at once (default 256)
          --warmup N         joins into a separate warm-up event before measuring (default 20000)
          --verify all|none|K  read back the queue records of all users, none, or a random K of them (default all);
                             with --postgres, unless none, also check the rows in queue_service.queue_entries
          --storage memory|discard|postgres
                             memory: the silo exactly as configured by AddTicketQueue (in-memory grain storage and
                             queue records, kept in the same process);
                             discard: replace that storage with one that keeps nothing, to see the grain state alone;
                             postgres: the cluster stack's storage (ADO.NET grain storage and queue records in
                             PostgreSQL, see init-db.sql) with localhost clustering and in-memory reminders
                             (default memory)
          --postgres CS      the PostgreSQL connection string, required by --storage postgres, e.g.
                             "Host=127.0.0.1;Port=5432;Username=postgres;Database=ticketqueue"; with --cluster-client,
                             optional: the silos' database, to check and measure the rows they wrote
          --ticket-block N   ticket numbers the queue grain reserves per write of its state (default: QueueOptions'
                             default); a diagnostic, to see what those writes cost (not with --cluster-client: the
                             silos' TicketQueue__Queue__TicketBlockSize decides)
          --seed S           seed of the random user ids (default 20250101)
          --result-file F    also write the run's figures to F as JSON (what --sizes reads back from each run)
        """ + "\n" + ClusterClientOptions.Usage;

    public static BenchmarkOptions Parse(string[] args)
    {
        var options = new BenchmarkOptions(Users: 100_000, Concurrency: 256, WarmupUsers: 20_000, VerifySample: null,
            Storage: BenchmarkStorage.Memory, Postgres: null, TicketBlock: null, Seed: 20250101,
            ClusterClient: false, Cluster: ClusterClientOptions.Default, Sizes: null, RedisBaseline: true, ResultFile: null);
        var storageGiven = false;
        var usersGiven = false;
        var redisBaselineGiven = false;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (name == ClusterClientOptions.Flag)
            {
                options = options with { ClusterClient = true };
                continue;
            }

            storageGiven |= name == "--storage";
            usersGiven |= name == "--users";
            redisBaselineGiven |= name == "--redis-baseline";
            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{name} needs a value.\n{Usage}");
            }

            var value = args[++i];
            options = name switch
            {
                "--users" => options with { Users = Positive(name, value) },
                "--concurrency" => options with { Concurrency = Positive(name, value) },
                "--warmup" => options with { WarmupUsers = NonNegative(name, value) },
                "--verify" => options with
                {
                    VerifySample = value switch
                    {
                        "all" => null,
                        "none" => 0,
                        _ => NonNegative(name, value),
                    },
                },
                "--storage" => options with
                {
                    Storage = value switch
                    {
                        "memory" => BenchmarkStorage.Memory,
                        "discard" => BenchmarkStorage.Discard,
                        "postgres" => BenchmarkStorage.Postgres,
                        _ => throw new ArgumentException($"--storage must be memory, discard or postgres, not '{value}'."),
                    },
                },
                "--postgres" => options with { Postgres = value },
                "--ticket-block" => options with { TicketBlock = Positive(name, value) },
                "--seed" => options with { Seed = NonNegative(name, value) },
                "--sizes" => options with { Sizes = [.. value.Split(',').Select(size => Positive(name, size.Trim())).Distinct().Order()] },
                "--redis-baseline" => options with
                {
                    RedisBaseline = value switch
                    {
                        "measure" => true,
                        "cite" => false,
                        _ => throw new ArgumentException($"--redis-baseline must be measure or cite, not '{value}'."),
                    },
                },
                "--result-file" => options with { ResultFile = value },
                _ when options.Cluster.With(name, value) is { } cluster => options with { Cluster = cluster },
                _ => throw new ArgumentException($"Unknown option '{name}'.\n{Usage}"),
            };
        }

        options.Cluster.Validate(options.ClusterClient);
        options = (usersGiven, options.Sizes, options.ClusterClient) switch
        {
            (true, not null, _) => throw new ArgumentException("Give --users N for one run or --sizes N,N,... for several, not both."),
            (_, not null, true) => throw new ArgumentException("--sizes runs a fresh silo per size in this process's children; not with --cluster-client."),
            (false, null, false) => options with { Sizes = DefaultSizes },
            _ => options,
        };
        if (options.Sizes is not null && options.ResultFile is not null)
        {
            throw new ArgumentException("--result-file belongs to one run (--users N), not to --sizes.");
        }

        if (options.Sizes is null && redisBaselineGiven)
        {
            throw new ArgumentException("--redis-baseline belongs to --sizes; one run (--users N) measures no baseline.");
        }

        if (options.ClusterClient)
        {
            // The silos are other processes: their configuration decides storage and ticket blocks.
            return (storageGiven, options.TicketBlock) switch
            {
                (true, _) => throw new ArgumentException("--storage does not apply to --cluster-client: the silos keep their state in PostgreSQL."),
                (_, not null) => throw new ArgumentException("--ticket-block does not apply to --cluster-client: set TicketQueue__Queue__TicketBlockSize on the silos."),
                _ => options,
            };
        }

        return (options.Storage, options.Postgres) switch
        {
            (BenchmarkStorage.Postgres, null or "") => throw new ArgumentException("--storage postgres needs --postgres \"<connection string>\"."),
            (not BenchmarkStorage.Postgres, not null) => throw new ArgumentException("--postgres is only used with --storage postgres or --cluster-client."),
            _ => options,
        };
    }

    /// <summary>
    /// The arguments of one run of a --sizes series: those given, minus what only the series uses, plus the
    /// size and where to leave the figures.
    /// </summary>
    public static List<string> OneRunArgs(string[] args, int users, string resultFile)
    {
        var kept = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "--sizes" or "--redis-baseline")
            {
                i++;
                continue;
            }

            kept.Add(args[i]);
        }

        kept.AddRange(["--users", users.ToString(System.Globalization.CultureInfo.InvariantCulture), "--result-file", resultFile]);
        return kept;
    }
}
