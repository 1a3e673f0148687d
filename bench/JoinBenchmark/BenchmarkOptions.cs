namespace TicketQueue.JoinBenchmark;

/// <summary>What the command line asked for. Unknown arguments are an error, not a silent default.</summary>
public sealed record BenchmarkOptions(
    int Users,
    int Concurrency,
    int WarmupUsers,
    int? VerifySample,
    bool DiscardStorage,
    int Seed)
{
    public const string Usage =
        """
        Usage: dotnet run -c Release --project bench/JoinBenchmark -- [options]
          --users N          joins into one event, each by a distinct random user (default 100000)
          --concurrency C    joins in flight at once (default 256)
          --warmup N         joins into a separate warm-up event before measuring (default 20000)
          --verify all|none|K  read back the queue records of all users, none, or a random K of them (default all)
          --storage memory|discard
                             memory: the silo exactly as configured by AddTicketQueue (in-memory grain storage,
                             which keeps a serialized copy of every shard's state in the same process);
                             discard: replace that storage with one that keeps nothing, to see the grain state alone
                             (default memory)
          --seed S           seed of the random user ids (default 20250101)
        """;

    public static BenchmarkOptions Parse(string[] args)
    {
        var options = new BenchmarkOptions(Users: 100_000, Concurrency: 256, WarmupUsers: 20_000, VerifySample: null,
            DiscardStorage: false, Seed: 20250101);
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
                    DiscardStorage = value switch
                    {
                        "memory" => false,
                        "discard" => true,
                        _ => throw new ArgumentException($"--storage must be memory or discard, not '{value}'."),
                    },
                },
                "--seed" => options with { Seed = NonNegative(name, value) },
                _ => throw new ArgumentException($"Unknown option '{name}'.\n{Usage}"),
            };
        }

        return options;
    }

    private static int Positive(string name, string value) =>
        int.TryParse(value, out var n) && n > 0 ? n : throw new ArgumentException($"{name} must be a positive integer, not '{value}'.");

    private static int NonNegative(string name, string value) =>
        int.TryParse(value, out var n) && n >= 0 ? n : throw new ArgumentException($"{name} must be a non-negative integer, not '{value}'.");
}
