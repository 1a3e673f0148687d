using static TicketQueue.Bench.CommandLine;
using System.Globalization;

namespace TicketQueue.EndToEndBenchmark;

/// <summary>What the command line asked for. Unknown arguments are an error, not a silent default.</summary>
public sealed record BenchmarkOptions(
    int Users,
    double JoinSeconds,
    int AdmissionsPerMinute,
    int? MaxActiveShoppers,
    int Samples,
    TimeSpan SampleEvery,
    int SweepRate,
    int Observers,
    int WarmupUsers,
    int Seed)
{
    public const string Usage =
        """
        Usage: dotnet run -c Release --project bench/EndToEndBenchmark -- [options]
        The defaults are the issue's scenario: 100,000 users join one event within one minute and the queue
        admits 60,000 a minute, so the whole run takes about two minutes.
          --users N          users who join the event, each once (default 100000)
          --join-seconds S   the joins arrive evenly spread over S seconds, each from its own concurrent caller,
                             whether earlier ones have been answered or not (default 60)
          --rate R           the event's admissions per minute (default 60000)
          --max-active M     the event's maximum active shoppers (default: --users, so it never binds)
          --samples K        users whose own status is read every --sample-every while they wait (default 2000)
          --sample-every MS  milliseconds between two reads of a sampled user's status (default 1000)
          --sweep-rate R     reads a second of every user's status in turn, each until seen admitted (default 5000)
          --observers O      queue observers, each subscribed to the queue grain as a gateway is (default 2)
          --warmup N         joins into a separate warm-up event first (default 5000)
          --seed S           seed of the user ids and of the sample (default 20250101)
        The exit code is 0 only if every correctness check passed: every join answered with a ticket, tickets
        exactly 1..N, every user admitted exactly once and in ticket order, every observer's cursor never
        moving back, and no user's position ever rising: from the join's answer through the sweep's reads to
        the final read, for every user, and through the sampled users' frequent reads.
        """;

    public int MaxActiveShoppersOrDefault => MaxActiveShoppers ?? Users;

    public static BenchmarkOptions Parse(string[] args)
    {
        var options = new BenchmarkOptions(Users: 100_000, JoinSeconds: 60, AdmissionsPerMinute: 60_000, MaxActiveShoppers: null,
            Samples: 2_000, SampleEvery: TimeSpan.FromSeconds(1), SweepRate: 5_000, Observers: 2, WarmupUsers: 5_000, Seed: 20250101);
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{name} needs a value.\n{Usage}");
            }

            var value = args[++i];
            options = name switch
            {
                "--users" => options with { Users = Positive(name, value) },
                "--join-seconds" => options with
                {
                    JoinSeconds = double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds <= 3600
                        ? seconds
                        : throw new ArgumentException($"--join-seconds must be a number of seconds above 0 and at most 3600, not '{value}'."),
                },
                "--rate" => options with { AdmissionsPerMinute = Positive(name, value) },
                "--max-active" => options with { MaxActiveShoppers = Positive(name, value) },
                "--samples" => options with { Samples = NonNegative(name, value) },
                "--sample-every" => options with { SampleEvery = TimeSpan.FromMilliseconds(Positive(name, value)) },
                "--sweep-rate" => options with { SweepRate = Positive(name, value) },
                "--observers" => options with { Observers = Positive(name, value) },
                "--warmup" => options with { WarmupUsers = NonNegative(name, value) },
                "--seed" => options with
                {
                    Seed = int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed)
                        ? seed
                        : throw new ArgumentException($"--seed must be an integer, not '{value}'."),
                },
                _ => throw new ArgumentException($"Unknown option '{name}'.\n{Usage}"),
            };
        }

        return options.Samples > options.Users
            ? throw new ArgumentException($"--samples ({options.Samples}) must be at most --users ({options.Users}).")
            : options;
    }
}
