using System.Diagnostics;
using System.Runtime;

namespace TicketQueue.JoinBenchmark;

/// <summary>The process's memory after a forced, blocking, compacting full collection (LOH included).</summary>
public sealed record MemorySnapshot(long LiveBytes, long HeapSizeBytes, long FragmentedBytes, long WorkingSetBytes)
{
    public static MemorySnapshot Take()
    {
        for (var i = 0; i < 2; i++)
        {
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        var info = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        using var process = Process.GetCurrentProcess();
        return new MemorySnapshot(GC.GetTotalMemory(forceFullCollection: false), info.HeapSizeBytes, info.FragmentedBytes,
            process.WorkingSet64);
    }

    public static string Mib(long bytes) => $"{bytes / 1024.0 / 1024.0:F1} MiB";
}
