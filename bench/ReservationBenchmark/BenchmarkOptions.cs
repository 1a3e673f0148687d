using static TicketQueue.Bench.CommandLine;
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
    int Users,
    IReadOnlyList<SeatPick> Picks,
    int? FrontRows,
    int Seed,
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
        The defaults are the seat-contention scenario: 10,000 buyers for 1,000 seats, once with best-available
        seats and once with seats each buyer picks near the front; docs/performance/seat-contention.png.
          --seats N          seats of the event, split evenly into the blocks, 100 to a row (default 1000)
          --blocks B         seat blocks (one grain each); N must be a multiple of 100 x B (default 1)
          --users U          admitted users, each of whom tries once to buy (default 10000); user i buys in
                             block i mod B. U x Q = N sells out exactly
          --quantity Q       seats each buyer holds, then pays for (default 2, at most 4: the ticket limit)
          --pick P[,P]       how buyers choose seats, one run per choice (default best-available,random-front):
                             best-available: ask for Q seats, the block picks them;
                             random-front: ask for Q adjacent seats at a random place in one of the front
                             rows (see --front-rows), so buyers collide on the same seats
          --front-rows R     rows per block random-front picks from (default a fifth of the block's rows, at least 1)
          --buyers K         purchases in flight at once (default 64)
          --seed S           seed of the random-front picks (default 20250101)
          --warmup P         purchases on a separate warm-up event first (default 200)
          --storage memory|postgres
                             memory: the silo exactly as configured by AddTicketQueue (in-memory grain storage);
                             postgres: the cluster stack's storage (ADO.NET grain storage and queue records in
                             PostgreSQL, see init-db.sql) with localhost clustering and in-memory reminders
                             (default memory)
          --postgres CS      the PostgreSQL connection string, required by --storage postgres; with --cluster-client,
                             optional: the silos' database, to measure the seat block's row
        The exit code is 0 only if every correctness check passed (no seat oversold, sold counts equal the
        confirmed reservations, every refusal justified, every purchase that held seats confirmed).
        """ + "\n" + ClusterClientOptions.Usage;

    public int RowsPerBlock => Seats / Blocks / SeatsPerRow;

    public int FrontRowsOrDefault => FrontRows ?? Math.Max(1, RowsPerBlock / 5);

    public static BenchmarkOptions Parse(string[] args)
    {
        var options = new BenchmarkOptions(Seats: 1_000, Blocks: 1, Quantity: 2, Buyers: 64, Users: 10_000,
            Picks: [SeatPick.BestAvailable, SeatPick.RandomFront], FrontRows: null, Seed: 20250101, WarmupPurchases: 200,
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
                "--pick" => options with { Picks = ParsePicks(value) },
                "--front-rows" => options with { FrontRows = Positive(name, value) },
                "--seed" => options with { Seed = int.TryParse(value, out var seed) ? seed : throw new ArgumentException($"--seed must be an integer, not '{value}'.") },
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

        if (options.FrontRows > options.RowsPerBlock)
        {
            throw new ArgumentException($"--front-rows ({options.FrontRows}) must be at most the rows of a block ({options.RowsPerBlock}).");
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

    private static SeatPick[] ParsePicks(string value)
    {
        var picks = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(name => SeatPicks.Parse(name)
                ?? throw new ArgumentException($"--pick takes {string.Join(" or ", Enum.GetValues<SeatPick>().Select(SeatPicks.Name))}, not '{name}'."))
            .ToArray();
        return picks.Length > 0 && picks.Distinct().Count() == picks.Length
            ? picks
            : throw new ArgumentException($"--pick must name each seat choice at most once, and at least one, not '{value}'.");
    }
}
