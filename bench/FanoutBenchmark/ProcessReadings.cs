using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace TicketQueue.FanoutBenchmark;

/// <summary>A process's memory at one moment: resident set and, when it could be read, the live managed heap.</summary>
public sealed record MemoryReading(long? RssBytes, long? LiveHeapBytes);

/// <summary>CPU time of the gateway, of this process and of the whole machine at one moment (from /proc).</summary>
public sealed record CpuReading(long Timestamp, (long User, long Kernel) Gateway, (long User, long Kernel) Own, long MachineBusyTicks, long MachineTotalTicks);

/// <summary>Cores busy on average between two readings, and the share of the gateway's and the clients' time spent in the kernel.</summary>
public sealed record CpuUse(double Seconds, double Gateway, double Client, double Other, double Idle, double GatewayKernel, double ClientKernel)
{
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"gateway {Gateway:F2} ({Share(GatewayKernel, Gateway)} in the kernel), benchmark clients {Client:F2} ({Share(ClientKernel, Client)} in the kernel), " +
        $"other processes {Other:F2}, idle {Idle:F2} cores over {Seconds:F1} s");

    private static string Share(double part, double whole) =>
        whole > 0 ? string.Create(CultureInfo.InvariantCulture, $"{part / whole:P0}") : "n/a";
}

/// <summary>Readings of the gateway process and of this one, from /proc and, for the gateway's heap, from EventPipe.</summary>
public static class ProcessReadings
{
    // /proc counts CPU time in USER_HZ ticks, which Linux fixes at 100 a second.
    public const double TicksPerSecond = 100;

    /// <summary>
    /// Forces a full, blocking GC in the process (as dotnet-gcdump does: an EventPipe session with the
    /// GCHeapCollect keyword), reads the sizes of all generations after it, then its VmRSS.
    /// </summary>
    public static MemoryReading GatewayMemory(int pid)
    {
        long? live = null;
        try
        {
            var client = new DiagnosticsClient(pid);
            var keywords = (long)(ClrTraceEventParser.Keywords.GC | ClrTraceEventParser.Keywords.GCHeapCollect);
            using var session = client.StartEventPipeSession(
                [new EventPipeProvider("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, keywords)], requestRundown: false);
            using var source = new EventPipeEventSource(session.EventStream);
            var induced = false;
            source.Clr.GCStart += e => induced |= e.Reason == GCReason.Induced;
            source.Clr.GCHeapStats += e =>
            {
                if (induced && live is null)
                {
                    live = e.GenerationSize0 + e.GenerationSize1 + e.GenerationSize2 + e.GenerationSize3 + e.GenerationSize4;
                    session.Stop();
                }
            };
            var reading = Task.Run(source.Process);
            if (!reading.Wait(TimeSpan.FromSeconds(30)))
            {
                session.Stop();
            }
        }
        catch (Exception e) when (e is ServerNotAvailableException or UnsupportedCommandException or IOException or TimeoutException or AggregateException)
        {
            Console.WriteLine($"  (the gateway's heap could not be read through EventPipe: {e.GetBaseException().Message})");
        }

        return new MemoryReading(RssBytes(pid), live);
    }

    /// <summary>This process after a full GC: resident set and live managed heap.</summary>
    public static MemoryReading OwnMemory()
    {
        var live = GC.GetTotalMemory(forceFullCollection: true);
        return new MemoryReading(RssBytes(Environment.ProcessId), live);
    }

    public static CpuReading Cpu(int gatewayPid)
    {
        var (busy, total) = MachineTicks();
        return new CpuReading(Stopwatch.GetTimestamp(), ProcessTicks(gatewayPid), ProcessTicks(Environment.ProcessId), busy, total);
    }

    public static CpuUse Between(CpuReading before, CpuReading after)
    {
        var seconds = Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp).TotalSeconds;
        double Cores(long ticks) => ticks / TicksPerSecond / seconds;
        var gatewayKernel = Cores(after.Gateway.Kernel - before.Gateway.Kernel);
        var gateway = Cores(after.Gateway.User - before.Gateway.User) + gatewayKernel;
        var clientKernel = Cores(after.Own.Kernel - before.Own.Kernel);
        var client = Cores(after.Own.User - before.Own.User) + clientKernel;
        var total = after.MachineTotalTicks - before.MachineTotalTicks;
        // The machine's counters add up all cores: over the interval their total is wall time x cores.
        var busy = total > 0 ? (double)(after.MachineBusyTicks - before.MachineBusyTicks) / total * Environment.ProcessorCount : double.NaN;
        return new CpuUse(seconds, gateway, client, busy - gateway - client, Environment.ProcessorCount - busy, gatewayKernel, clientKernel);
    }

    /// <summary>The soft limit on open files of this process (the runtime raises it to the hard limit at start).</summary>
    public static long? OpenFilesLimit()
    {
        var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        var fields = line?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields is [var soft, ..] && long.TryParse(soft, CultureInfo.InvariantCulture, out var n) ? n : null;
    }

    public static long? RssBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return null;
        }
    }

    // utime and stime of a process: fields 14 and 15 of /proc/<pid>/stat, counted after the command name's ')'.
    private static (long User, long Kernel) ProcessTicks(int pid)
    {
        var text = File.ReadAllText($"/proc/{pid}/stat");
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(fields[11], CultureInfo.InvariantCulture), long.Parse(fields[12], CultureInfo.InvariantCulture));
    }

    // Busy and total ticks of all cores, from the first line of /proc/stat.
    private static (long Busy, long Total) MachineTicks()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
            .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var idle = fields[3] + fields[4]; // idle, iowait
        var total = fields[..8].Sum(); // user nice system idle iowait irq softirq steal
        return (total - idle, total);
    }
}
