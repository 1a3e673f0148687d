using static TicketQueue.Bench.CommandLine;
using System.Globalization;

namespace TicketQueue.FanoutBenchmark;

/// <summary>What the command line asked for. Unknown arguments are an error, not a silent default.</summary>
public sealed record FanoutOptions(
    int Connections,
    int Rounds,
    int WarmupRounds,
    int Moves,
    int MoveRate,
    int ConnectConcurrency,
    int JoinConcurrency,
    int GapMilliseconds,
    int IdleSeconds,
    int RoundTimeoutSeconds,
    bool Build,
    string? Chart,
    int HoldSeconds)
{
    /// <summary>Admission rates of the settings rounds start here, far above any move rate, so each round's rate is its name.</summary>
    public const int RoundRateBase = 100_000;

    public const string Usage =
        """
        Usage: bash bench/fanout.sh [options]
           or: dotnet run -c Release --project bench/FanoutBenchmark -- [options]
          --connections N        SignalR connections following one event, each a distinct user (default 10000)
          --rounds R             measured broadcasts: an admin PUT changes the event's admission rate, which every
                                 follower hears as a cursor message; timed from the PUT to each client (default 100, so that
                                 the p99 of the time to the last client is not simply the slowest broadcast)
          --warmup-rounds W      broadcasts before the measured ones, not counted (default 2)
          --moves K              real cursor moves (admission ticks) to watch after the rounds: the spread between the
                                 first and the last client receiving the same cursor (default 20; 0 skips them)
          --move-rate M          admissions per minute while the cursor moves (default 60: one per 1-second tick);
                                 enough users join ahead of the followers that none of them is admitted
          --connect-concurrency C  connections being opened and followed at once (default 100)
          --join-concurrency J   joins in flight at once (default 64)
          --gap-ms G             pause after each broadcast has reached everyone (default 1000)
          --idle-seconds S       seconds with every connection open and nothing sent, to measure the background CPU
                                 (keep-alive pings) that the per-broadcast CPU figures leave out (default 5)
          --round-timeout-s T    longest wait for one broadcast to reach everyone (default 30)
          --no-build             do not run `dotnet build src/Gateway -c Release` first
          --chart NAME|none      write docs/performance/NAME.png (default fanout)
          --hold-seconds H       a diagnostic: before the broadcasts, keep everything up for H seconds so that a profiler
                                 (dotnet-trace, dotnet-gcdump, dotnet-counters) can attach to the gateway (default 0)
        """;

    public static FanoutOptions Parse(string[] args)
    {
        var options = new FanoutOptions(Connections: 10_000, Rounds: 100, WarmupRounds: 2, Moves: 20, MoveRate: 60,
            ConnectConcurrency: 100, JoinConcurrency: 64, GapMilliseconds: 1000, IdleSeconds: 5, RoundTimeoutSeconds: 30,
            Build: true, Chart: "fanout", HoldSeconds: 0);
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (name == "--no-build")
            {
                options = options with { Build = false };
                continue;
            }

            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{name} needs a value.\n{Usage}");
            }

            var value = args[++i];
            options = name switch
            {
                "--connections" => options with { Connections = Positive(name, value) },
                "--rounds" => options with { Rounds = Positive(name, value) },
                "--warmup-rounds" => options with { WarmupRounds = NonNegative(name, value) },
                "--moves" => options with { Moves = NonNegative(name, value) },
                "--move-rate" => options with { MoveRate = Positive(name, value) },
                "--connect-concurrency" => options with { ConnectConcurrency = Positive(name, value) },
                "--join-concurrency" => options with { JoinConcurrency = Positive(name, value) },
                "--gap-ms" => options with { GapMilliseconds = NonNegative(name, value) },
                "--idle-seconds" => options with { IdleSeconds = NonNegative(name, value) },
                "--round-timeout-s" => options with { RoundTimeoutSeconds = Positive(name, value) },
                "--chart" => options with { Chart = value == "none" ? null : value },
                "--hold-seconds" => options with { HoldSeconds = NonNegative(name, value) },
                _ => throw new ArgumentException($"Unknown option '{name}'.\n{Usage}"),
            };
        }

        // The pause that ends the moves uses MoveRate + 1; both must stay below the rounds' rates.
        return options.MoveRate + 1 >= RoundRateBase
            ? throw new ArgumentException($"--move-rate must be below {RoundRateBase - 1}.")
            : options;
    }

    /// <summary>Users who join ahead of the followers, so that the cursor moves never reach a follower's ticket.</summary>
    public int UsersAhead => Moves == 0 ? 0 : (int)Math.Min(1_000_000, (long)Moves * (MoveRate / 60 + 1) * 3 + 100);
}
