using static TicketQueue.Bench.CommandLine;
using System.Globalization;

namespace TicketQueue.HttpBenchmark;

/// <summary>What the command line asked for. Unknown arguments are an error, not a silent default.</summary>
public sealed record HttpOptions(
    int Threads,
    int Connections,
    int DurationSeconds,
    int WarmupSeconds,
    int WarmupRounds,
    int TimeoutSeconds,
    int Users,
    int WarmupUsers,
    int AdmissionsPerMinute,
    bool RedisAof,
    bool AuthProbe,
    bool Build,
    string? ChartName)
{
    public const string Usage =
        """
        Usage: dotnet run -c Release --project bench/HttpBenchmark -- [options]
        Starts the gateway (embedded silo, Release build, Production), a redis-server and bench/RedisQueueBaseline,
        and drives each with wrk: the gateway's GET /health/live (the HTTP ceiling), the gateway's authenticated
        join, then the baseline's join (ZADD NX + ZRANK). Installs wrk with apt-get if it is missing.
          --threads T        wrk threads (default 2)
          --connections C    wrk connections, all kept busy (default 256)
          --duration S       seconds measured per scenario (default 20)
          --warmup S         seconds of one warm-up round, on other users than the measured ones (default 5; 0 for
                             no warm-up). The servers need 15 to 20 s of load before the JIT has optimised their
                             paths: rounds repeat until the rate stops rising (less than 5 % above the round
                             before), at least 3 rounds (fewer if --warmup-rounds is lower)
          --warmup-rounds N  the most warm-up rounds before each scenario (default 6)
          --timeout S        wrk's request timeout (default 10)
          --users N          distinct users (access tokens) for the measured joins; each wrk thread walks its own
                             share and wraps around when it runs out, which makes the later joins repeats
                             (default 1000000: more than a 20 s run sends, even to the baseline)
          --warmup-users N   distinct users for the warm-up joins, shared out between the rounds (default 900000)
          --admissions-per-minute N
                             the event's admission rate; it does not touch the join path (default 6000)
          --redis-aof        run redis-server with AOF, appendfsync everysec (default: no persistence, as the
                             embedded gateway keeps its queue in memory)
          --no-auth-probe    skip the extra gateway scenario GET /api/auth/me (token validation alone)
          --no-build         use the existing Release builds of src/Gateway and bench/RedisQueueBaseline
          --chart NAME       write docs/performance/NAME.png (default http-joins); --no-chart for none
        Exit code: 0 when every correctness check passed (no error on a join, every user who was sent got exactly
        one place), 1 when one failed, 2 for a usage or setup error. Targets are reported, not enforced.
        """;

    /// <summary>Warm-up rounds always run before the rate may count as settled (unless --warmup-rounds is lower).</summary>
    public const int MinimumWarmupRounds = 3;

    public static HttpOptions Parse(string[] args)
    {
        var options = new HttpOptions(Threads: 2, Connections: 256, DurationSeconds: 20, WarmupSeconds: 5, WarmupRounds: 6,
            TimeoutSeconds: 10, Users: 1_000_000, WarmupUsers: 900_000, AdmissionsPerMinute: 6_000, RedisAof: false, AuthProbe: true, Build: true,
            ChartName: "http-joins");
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            switch (name)
            {
                case "--redis-aof":
                    options = options with { RedisAof = true };
                    continue;
                case "--no-auth-probe":
                    options = options with { AuthProbe = false };
                    continue;
                case "--no-build":
                    options = options with { Build = false };
                    continue;
                case "--no-chart":
                    options = options with { ChartName = null };
                    continue;
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{name} needs a value.\n{Usage}");
            }

            var value = args[++i];
            options = name switch
            {
                "--threads" => options with { Threads = Positive(name, value) },
                "--connections" => options with { Connections = Positive(name, value) },
                "--duration" => options with { DurationSeconds = Positive(name, value) },
                "--warmup" => options with { WarmupSeconds = NonNegative(name, value) },
                "--warmup-rounds" => options with { WarmupRounds = Positive(name, value) },
                "--timeout" => options with { TimeoutSeconds = Positive(name, value) },
                "--users" => options with { Users = Positive(name, value) },
                "--warmup-users" => options with { WarmupUsers = Positive(name, value) },
                "--admissions-per-minute" => options with { AdmissionsPerMinute = Positive(name, value) },
                "--chart" => options with { ChartName = value },
                _ => throw new ArgumentException($"Unknown option '{name}'.\n{Usage}"),
            };
        }

        if (options.Connections < options.Threads)
        {
            throw new ArgumentException("--connections must be at least --threads: wrk gives each thread its share.");
        }

        if (options.Users < options.Threads || options.WarmupUsers / options.WarmupRounds < options.Threads)
        {
            throw new ArgumentException("--users, and --warmup-users / --warmup-rounds, must be at least --threads: each thread walks its own share.");
        }

        return options;
    }

    /// <summary>Warm-up round <paramref name="round"/>'s users: its own share of the warm-up users.</summary>
    public TokenRange WarmupUsersOf(int round) => new(round * (WarmupUsers / WarmupRounds), WarmupUsers / WarmupRounds);

    /// <summary>The measured runs' users, after all the warm-up users.</summary>
    public TokenRange MeasuredUsers => new(WarmupUsers, Users);

    /// <summary>The same settings in wrk's terms, for the report.</summary>
    public string WrkSettings
    {
        get
        {
            var rounds = WarmupRounds <= MinimumWarmupRounds ? $"{WarmupRounds}" : $"{MinimumWarmupRounds} to {WarmupRounds}";
            return string.Create(CultureInfo.InvariantCulture,
                $"-t{Threads} -c{Connections} -d{DurationSeconds}s --timeout {TimeoutSeconds}s --latency " +
                $"(warm-up: rounds of {WarmupSeconds} s until the rate stops rising, {rounds} rounds)");
        }
    }
}
