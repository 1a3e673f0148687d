using TicketQueue.Bench;

namespace TicketQueue.ReservationBenchmark;

/// <summary>Where the silo keeps grain state during the benchmark.</summary>
public enum BenchmarkStorage
{
    /// <summary>As AddTicketQueue configures an embedded silo: everything in memory.</summary>
    Memory,

    /// <summary>The cluster stack's storage: grain state and queue records in PostgreSQL.</summary>
    Postgres,
}

/// <summary>What the command line asked for. Unknown arguments are an error, not a silent default.</summary>
public sealed record BenchmarkOptions(
    int Seats,
    int Blocks,
    int Quantity,
    int Buyers,
    int? Users,
    int WarmupPurchases,
    BenchmarkStorage Storage,
    string? Postgres,
    bool ClusterClient,
    ClusterClientOptions Cluster)
{
    /// <summary>Seats per row in every block; a block has Seats / Blocks / SeatsPerRow rows.</summary>
    public const int SeatsPerRow = 100;

    public const string Usage =
        """
        Usage: dotnet run -c Release --project bench/ReservationBenchmark -- [options]
          --seats N          seats of the event, split evenly into the blocks, 100 to a row (default 10000)
          --blocks B         seat blocks (one grain each); N must be a multiple of 100 x B (default 1)
          --quantity Q       best-available seats each buyer holds, then pays for (default 2)
          --buyers K         purchases in flight at once (default 64)
          --users U          admitted users who try to buy (default N / Q: exactly enough to sell out)
          --warmup P         purchases on a separate warm-up event first (default 200)
          --storage memory|postgres
                             memory: the silo exactly as configured by AddTicketQueue (in-memory grain storage);
                             postgres: the cluster stack's storage (ADO.NET grain storage and queue records in
                             PostgreSQL, see init-db.sql) with localhost clustering and in-memory reminders
                             (default memory)
          --postgres CS      the PostgreSQL connection string, required by --storage postgres; with --cluster-client,
                             optional: the silos' database, to measure the seat block's row
        """ + "\n" + ClusterClientOptions.Usage;

    public int UsersOrDefault => Users ?? Seats / Quantity;

    public static BenchmarkOptions Parse(string[] args)
    {
        var options = new BenchmarkOptions(Seats: 10_000, Blocks: 1, Quantity: 2, Buyers: 64, Users: null, WarmupPurchases: 200,
            Storage: BenchmarkStorage.Memory, Postgres: null, ClusterClient: false, Cluster: ClusterClientOptions.Default);
        var storageGiven = false;
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            if (name == ClusterClientOptions.Flag)
            {
                options = options with { ClusterClient = true };
                continue;
            }

            storageGiven |= name == "--storage";
            if (i + 1 >= args.Length)
            {
                throw new ArgumentException($"{name} needs a value.\n{Usage}");
            }

            var value = args[++i];
            options = name switch
            {
                "--seats" => options with { Seats = Positive(name, value) },
                "--blocks" => options with { Blocks = Positive(name, value) },
                "--quantity" => options with { Quantity = Positive(name, value) },
                "--buyers" => options with { Buyers = Positive(name, value) },
                "--users" => options with { Users = Positive(name, value) },
                "--warmup" => options with { WarmupPurchases = NonNegative(name, value) },
                "--storage" => options with
                {
                    Storage = value switch
                    {
                        "memory" => BenchmarkStorage.Memory,
                        "postgres" => BenchmarkStorage.Postgres,
                        _ => throw new ArgumentException($"--storage must be memory or postgres, not '{value}'."),
                    },
                },
                "--postgres" => options with { Postgres = value },
                _ when options.Cluster.With(name, value) is { } cluster => options with { Cluster = cluster },
                _ => throw new ArgumentException($"Unknown option '{name}'.\n{Usage}"),
            };
        }

        if (options.Seats % (SeatsPerRow * options.Blocks) != 0)
        {
            throw new ArgumentException($"--seats ({options.Seats}) must be a multiple of {SeatsPerRow} x --blocks ({options.Blocks}).");
        }

        // The event allows 4 tickets per person (BenchmarkEvent), as the demo events do.
        if (options.Quantity > 4)
        {
            throw new ArgumentException("--quantity must be at most 4, the event's ticket limit per person.");
        }

        options.Cluster.Validate(options.ClusterClient);
        if (options.ClusterClient)
        {
            return storageGiven
                ? throw new ArgumentException("--storage does not apply to --cluster-client: the silos keep their state in PostgreSQL.")
                : options;
        }

        return (options.Storage, options.Postgres) switch
        {
            (BenchmarkStorage.Postgres, null or "") => throw new ArgumentException("--storage postgres needs --postgres \"<connection string>\"."),
            (not BenchmarkStorage.Postgres, not null) => throw new ArgumentException("--postgres is only used with --storage postgres or --cluster-client."),
            _ => options,
        };
    }

    private static int Positive(string name, string value) =>
        int.TryParse(value, out var n) && n > 0 ? n : throw new ArgumentException($"{name} must be a positive integer, not '{value}'.");

    private static int NonNegative(string name, string value) =>
        int.TryParse(value, out var n) && n >= 0 ? n : throw new ArgumentException($"{name} must be a non-negative integer, not '{value}'.");
}
