using System.Diagnostics;
using Npgsql;
using Orleans;
using Orleans.Serialization;
using Orleans.Storage;
using TicketQueue.Bench;
using TicketQueue.Grains.Abstractions.Events;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Abstractions.Seats;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Seats;

namespace TicketQueue.ReservationBenchmark;

/// <summary>The figures of one run (one way of picking seats), for the summary table and the chart.</summary>
internal sealed record ModeResult(
    SeatPick Pick,
    TimeSpan Elapsed,
    TimeSpan LastHold,
    int Attempts,
    int Held,
    int Confirmed,
    IReadOnlyDictionary<string, int> Refused,
    long[] AttemptTicks,
    long[] PayTicks,
    string Cpu,
    long Oversold,
    bool Ok)
{
    public double AttemptsPerSecond => Attempts / Elapsed.TotalSeconds;

    public double HoldsPerSecond => Held / Elapsed.TotalSeconds;

    /// <summary>Holds per second until the last one: the pace at which seats went while there were any to get.</summary>
    public double HoldsPerSecondWhileSelling => LastHold > TimeSpan.Zero ? Held / LastHold.TotalSeconds : 0;

    public double ConfirmedPerSecond => Confirmed / Elapsed.TotalSeconds;
}

/// <summary>
/// One run on a fresh event: U users join and are admitted before the clock starts, then K buyers at a time
/// each try once to hold seats the chosen way and, when the block says yes, pay. Prints its figures and checks.
/// </summary>
internal sealed class ContentionRun(
    IGrainFactory grains, BenchmarkOptions options, Serializer serializer, NpgsqlDataSource? database, ClusterProcesses? processes)
{
    public const decimal Price = 10_000m;

    public async Task<ModeResult> Run(SeatPick pick, string runId)
    {
        var name = SeatPicks.Name(pick);
        var eventId = $"rbench-{runId}-{name}";
        var catalog = grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key);
        await catalog.Create(Event(eventId, options.Blocks, options.RowsPerBlock, options.Users));
        var users = NewUsers(options.Users);
        var requests = SeatPicks.Requests(pick, users, options.Blocks, options.Quantity, options.FrontRowsOrDefault, options.Seed);
        var admitWatch = Stopwatch.StartNew();
        await Purchases.Admit(grains, eventId, users);
        admitWatch.Stop();

        var loadBefore = Machine.LoadAverage();
        var machineBefore = Machine.Cpu();
        var cpuBefore = Machine.ProcessCpu();
        var processesBefore = processes?.Take();
        var started = Stopwatch.GetTimestamp();
        var stopwatch = Stopwatch.StartNew();
        var outcomes = await Purchases.Run(grains, eventId, requests, options.Buyers, progress: true);
        stopwatch.Stop();
        var elapsed = stopwatch.Elapsed;
        var processesAfter = processes?.Take();
        var split = processes?.Between(processesBefore!, processesAfter!, $"the purchases ({name})");
        var cpuUsed = Machine.ProcessCpu() - cpuBefore;
        var machineAfter = Machine.Cpu();

        var held = outcomes.Count(o => o.Kind is PurchaseKind.Confirmed or PurchaseKind.PayFailed);
        var confirmed = outcomes.Count(o => o.Kind == PurchaseKind.Confirmed);
        var refused = Purchases.RefusalCodes.ToDictionary(c => c, c => outcomes.Count(o => o.RefusalCode == c));
        var failed = outcomes.Count(o => o.Kind is PurchaseKind.HoldFailed or PurchaseKind.PayFailed or PurchaseKind.NotAdmitted);
        // Every attempt the block answered, yes or no: how long the buyer waited for the answer.
        var attemptTicks = outcomes.Where(o => o.Kind is PurchaseKind.Confirmed or PurchaseKind.PayFailed or PurchaseKind.Refused)
            .Select(o => o.HoldTicks).Order().ToArray();
        var heldTicks = outcomes.Where(o => o.Kind is PurchaseKind.Confirmed or PurchaseKind.PayFailed).Select(o => o.HoldTicks).Order().ToArray();
        var refusedTicks = outcomes.Where(o => o.Kind == PurchaseKind.Refused).Select(o => o.HoldTicks).Order().ToArray();
        var payTicks = outcomes.Where(o => o.Kind == PurchaseKind.Confirmed).Select(o => o.PayTicks).Order().ToArray();
        var lastHold = held == 0 ? TimeSpan.Zero
            : Stopwatch.GetElapsedTime(started, outcomes.Where(o => o.Kind is PurchaseKind.Confirmed or PurchaseKind.PayFailed).Max(o => o.AnsweredAt));
        var result = new ModeResult(pick, elapsed, lastHold, outcomes.Length, held, confirmed, refused, attemptTicks, payTicks,
            split is null
                ? $"{cpuUsed.TotalSeconds / elapsed.TotalSeconds / Environment.ProcessorCount:P0}"
                : $"{split.Client:F2} / {split.Silos:F2} / {split.Postgres:F2} / {split.Redis:F2} / {split.Other:F2} / {split.Idle:F2} cores",
            Oversold: 0, Ok: false);

        Console.WriteLine();
        Console.WriteLine($"Results: {name}" + (pick == SeatPick.RandomFront
            ? $" ({options.Quantity} adjacent seats at a random place in the first {options.FrontRowsOrDefault} row(s) of the block: " +
                $"{options.FrontRowsOrDefault * BenchmarkOptions.SeatsPerRow:N0} of its {options.Seats / options.Blocks:N0} seats)"
            : $" ({options.Quantity} seats; the block picks them)"));
        Console.WriteLine($"  admission                   {options.Users:N0} joins and their admission took {admitWatch.Elapsed.TotalSeconds:F2} s (not in the figures below)");
        Console.WriteLine($"  elapsed                     {elapsed.TotalSeconds:F2} s for {outcomes.Length:N0} purchase attempts, {options.Buyers} in flight");
        Console.WriteLine($"  hold attempts               {attemptTicks.Length:N0} answered of {outcomes.Length:N0} purchase attempts; " +
            $"{result.AttemptsPerSecond:N0} purchase attempts per second");
        Console.WriteLine($"  holds                       {held:N0} ({held * options.Quantity:N0} seats) = {result.HoldsPerSecond:N0} per second over the run; " +
            $"the last one {lastHold.TotalSeconds:F2} s after the start: {result.HoldsPerSecondWhileSelling:N0} per second until then");
        Console.WriteLine($"  confirmed reservations      {confirmed:N0} = {result.ConfirmedPerSecond:N0} per second ({result.ConfirmedPerSecond * options.Quantity:N0} seats sold per second)");
        Console.WriteLine($"  refused                     {string.Join(", ", refused.Select(r => $"{r.Value:N0} {r.Key}"))} (409: the seats asked for are gone)");
        Console.WriteLine($"  failed                      {failed:N0}");
        Console.WriteLine($"  hold latency                {Latency(heldTicks)} (Claim + IUserReservationsGrain.Reserve, held)");
        Console.WriteLine($"  refusal latency             {Latency(refusedTicks)} (the same calls, refused)");
        Console.WriteLine($"  pay latency                 {Latency(payTicks)} (IReservationGrain.Pay: capture, confirm the seats, finish the session)");
        Console.WriteLine($"  CPU used by this process    {cpuUsed.TotalSeconds:F1} s = {cpuUsed.TotalSeconds / elapsed.TotalSeconds / Environment.ProcessorCount:P0} of {Environment.ProcessorCount} cores");
        Console.WriteLine($"  CPU busy on the machine     {Machine.Busy(machineBefore, machineAfter)} (this process, and the rest: " +
            $"{(options.ClusterClient ? "the silos, PostgreSQL, Redis and " : database is not null ? "PostgreSQL and " : "")}any other process); " +
            $"load average before {loadBefore}");
        if (split is not null)
        {
            Console.WriteLine();
            foreach (var line in split.Lines)
            {
                Console.WriteLine(line);
            }
        }

        Console.WriteLine();
        Console.WriteLine($"Correctness: {name}");
        var checks = await SeatChecks.Verify(grains, eventId, options, pick, requests, outcomes, Price);

        // A block writes a snapshot of its whole state (group commit): its size is what each write costs.
        var blockState = BlockStateLike(checks.Reservations.Where(v => v.BlockId == SeatPicks.BlockId(0) && v.Status == ReservationStatus.Confirmed),
            options.Seats / options.Blocks);
        var serialized = new OrleansGrainStorageSerializer(serializer).Serialize(blockState).ToMemory().Length;
        Console.WriteLine($"  one block's state, as it ends {serialized:N0} bytes in the grain storage's binary format ({options.Seats / options.Blocks:N0} seats)");
        if (database is not null)
        {
            var (bytes, stored) = await StoredBlockRow(database, SeatBlocks.KeyFor(eventId, SeatPicks.BlockId(0)));
            Console.WriteLine($"  its PostgreSQL row            payload {bytes:N0} bytes, {stored:N0} bytes stored (TOAST compression) in reservation_service.grain_state");
        }

        return result with { Oversold = checks.Oversold, Ok = checks.Ok };
    }

    /// <summary>An event on sale now whose users are all admitted on the first tick and may hold seats longer than any run lasts.</summary>
    public static EventDefinition Event(string eventId, int blocks, int rows, int users)
    {
        var now = DateTimeOffset.UtcNow;
        return new EventDefinition(eventId, $"Reservation benchmark {eventId}", "Benchmark Hall",
            StartsAt: now.AddDays(30), SalesOpenAt: now.AddMinutes(-1), "KRW", TicketLimitPerUser: 4,
            Blocks: [.. Enumerable.Range(0, blocks).Select(b =>
                new SeatBlockDefinition(SeatPicks.BlockId(b), $"Block {b + 1}", rows, BenchmarkOptions.SeatsPerRow, Price))],
            new QueueSettings(AdmissionsPerMinute: Math.Max(60, users * 60), MaxActiveShoppers: Math.Max(1, users),
                ClaimWindow: TimeSpan.FromMinutes(30), ShoppingSession: TimeSpan.FromMinutes(60), HoldDuration: TimeSpan.FromMinutes(30)));
    }

    public static Guid[] NewUsers(int count) => [.. Enumerable.Range(0, count).Select(_ => Guid.NewGuid())];

    public static long Percentile(long[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    public static string Ms(long ticks) => $"{ticks * 1000.0 / Stopwatch.Frequency:F2}";

    private static string Latency(long[] sorted) => sorted.Length == 0
        ? "none"
        : $"mean {Ms((long)sorted.Average())} ms, p50/p99/max {Ms(Percentile(sorted, 0.50))} / {Ms(Percentile(sorted, 0.99))} / {Ms(sorted[^1])} ms";

    // The state a seat block holds once these reservations are sold, built the way SeatBlockGrain builds it.
    private static SeatBlockState BlockStateLike(IEnumerable<ReservationView> sold, int capacity)
    {
        var indexOf = Enumerable.Range(0, capacity).ToDictionary(
            i => $"{SeatBlockGrain.RowName(i / BenchmarkOptions.SeatsPerRow)}-{i % BenchmarkOptions.SeatsPerRow + 1}");
        var state = new SeatBlockState { Seats = new SeatSlot[capacity] };
        foreach (var view in sold)
        {
            var indexes = view.Seats.Select(s => indexOf[s]).ToArray();
            foreach (var index in indexes)
            {
                state.Seats[index] = new SeatSlot { HoldId = view.ReservationId, HeldUntil = view.ExpiresAt, Sold = true };
            }

            state.Holds[view.ReservationId] = indexes;
        }

        return state;
    }

    private static async Task<(long Bytes, long Stored)> StoredBlockRow(NpgsqlDataSource database, string blockKey)
    {
        await using var command = database.CreateCommand(
            "SELECT COALESCE(max(octet_length(payload)), 0)::bigint, COALESCE(max(pg_column_size(payload)), 0)::bigint " +
            "FROM reservation_service.grain_state WHERE grain_id_ext = $1");
        command.Parameters.Add(new NpgsqlParameter { Value = blockKey });
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}
