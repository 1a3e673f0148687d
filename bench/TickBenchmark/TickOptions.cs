using static TicketQueue.Bench.CommandLine;
using System.Globalization;

namespace TicketQueue.TickBenchmark;

/// <summary>Which of the two measurements to run.</summary>
public enum TickParts
{
    Both,
    Logic,
    Grain,
}

/// <summary>What the command line asked for. Unknown arguments are an error, not a silent default.</summary>
internal sealed record TickOptions(
    IReadOnlyList<int> Sizes,
    TickParts Parts,
    bool DryJob,
    int Ticks,
    int WarmupTicks,
    TimeSpan TickInterval,
    int AdmittedPerTick,
    int Concurrency)
{
    public const string Usage =
        """
        Usage: dotnet run -c Release --project bench/TickBenchmark -- [options]
          --sizes N,N,...    people waiting in the measured queue (default 1000,10000,100000,1000000); the target
                             compares the largest size with the smallest (within 2x)
          --only logic|grain logic: BenchmarkDotNet on AdmissionPacer.Tick alone, on a steady queue with N waiting;
                             grain: a silo per size (AddTicketQueue, in-memory storage) with N users joined through
                             the shards, timing its queue grain's ticks (default both)
          --job short|dry    BenchmarkDotNet job for the logic: short (3 warm-up and 9 measured iterations, in process), or
                             Dry (one invocation, for trying the command out; its figures mean nothing) (default short)
          --ticks N          admitting ticks timed per size in the silo (default 50)
          --warmup-ticks N   admitting ticks run before those and not timed (default 5)
          --tick-ms MS       the silo's TicketQueue:Queue:TickInterval in milliseconds (default 100, so a size takes
                             seconds, not minutes; what a tick does does not depend on it)
          --admit N          people each tick in the silo admits (default 10)
          --concurrency C    joins in flight while filling the queue (default 256)
        """;

    public static TickOptions Parse(string[] args)
    {
        var options = new TickOptions([1_000, 10_000, 100_000, 1_000_000], TickParts.Both, DryJob: false, Ticks: 50, WarmupTicks: 5,
            TickInterval: TimeSpan.FromMilliseconds(100), AdmittedPerTick: 10, Concurrency: 256);
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
                "--sizes" => options with { Sizes = [.. value.Split(',').Select(s => Positive(name, s.Trim())).Distinct().Order()] },
                "--only" => options with
                {
                    Parts = value switch
                    {
                        "logic" => TickParts.Logic,
                        "grain" => TickParts.Grain,
                        _ => throw new ArgumentException($"--only must be logic or grain, not '{value}'."),
                    },
                },
                "--job" => options with
                {
                    DryJob = value switch
                    {
                        "short" => false,
                        "dry" => true,
                        _ => throw new ArgumentException($"--job must be short or dry, not '{value}'."),
                    },
                },
                "--ticks" => options with { Ticks = Positive(name, value) },
                "--warmup-ticks" => options with { WarmupTicks = NonNegative(name, value) },
                "--tick-ms" => options with { TickInterval = TimeSpan.FromMilliseconds(Positive(name, value)) },
                "--admit" => options with { AdmittedPerTick = Positive(name, value) },
                "--concurrency" => options with { Concurrency = Positive(name, value) },
                _ => throw new ArgumentException($"Unknown option '{name}'.\n{Usage}"),
            };
        }

        // Every timed tick must find people to admit, or it would time an idle tick instead.
        var admittedInAll = (long)(options.Ticks + options.WarmupTicks + 2) * options.AdmittedPerTick;
        if (options.Parts != TickParts.Logic && options.Sizes.Min() <= admittedInAll)
        {
            throw new ArgumentException($"The smallest size ({options.Sizes.Min():N0}) must exceed the people the ticks admit " +
                $"(about {admittedInAll:N0}: (ticks + warm-up ticks + 2) x admit).");
        }

        // Credit accrues per second: the rate that admits --admit people per tick must be a whole number a minute.
        var perMinute = options.AdmittedPerTick * 60_000.0 / options.TickInterval.TotalMilliseconds;
        if (perMinute != Math.Floor(perMinute) || perMinute > 1_000_000)
        {
            throw new ArgumentException($"--admit {options.AdmittedPerTick} every {options.TickInterval.TotalMilliseconds} ms is " +
                $"{perMinute.ToString(CultureInfo.InvariantCulture)} a minute: it must be a whole number up to 1,000,000.");
        }

        return options;
    }

    /// <summary>The event's AdmissionsPerMinute that makes each silo tick admit <see cref="AdmittedPerTick"/>.</summary>
    public int AdmissionsPerMinute => (int)(AdmittedPerTick * 60_000 / TickInterval.TotalMilliseconds);
}
