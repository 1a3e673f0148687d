using BenchmarkDotNet.Attributes;
using TicketQueue.Grains.Queue;

namespace TicketQueue.TickBenchmark;

/// <summary>
/// The tick's own logic (<see cref="AdmissionPacer.Tick"/>: forget finished batches, accrue credit, count
/// active shoppers, move the cursor) on a steady queue with N people waiting. No grain, storage or network:
/// those are what <see cref="GrainTicks"/> adds.
/// </summary>
[MemoryDiagnoser]
public class AdmissionTickBenchmarks
{
    private SteadyQueue _queue = null!;

    /// <summary>The sizes to measure; Program sets them from the command line (the benchmark runs in process).</summary>
    public static IReadOnlyList<long> Sizes { get; set; } = [1_000, 10_000, 100_000, 1_000_000];

    [ParamsSource(nameof(Sizes))]
    public long Waiting { get; set; }

    [GlobalSetup]
    public void Setup() => _queue = new SteadyQueue(Waiting);

    [Benchmark(Description = "AdmissionPacer.Tick")]
    public AdmissionTickResult Tick() => _queue.Tick();
}
