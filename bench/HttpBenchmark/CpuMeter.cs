using System.Diagnostics;
using System.Globalization;

namespace TicketQueue.HttpBenchmark;

/// <summary>CPU time of the machine, of named processes, and of this process's finished children, at one moment.</summary>
public sealed record CpuSample(long Timestamp, long MachineBusyTicks, long MachineTotalTicks, long ReapedChildrenTicks,
    IReadOnlyList<long?> ProcessTicks);

/// <summary>Where the CPU went during one wrk run, in cores busy on average.</summary>
public sealed record CpuUse(IReadOnlyList<(string Name, double Cores)> Servers, double Wrk, double Other, double Idle)
{
    /// <summary>The servers' cores together (the gateway; or the baseline and its redis-server).</summary>
    public double ServerCores => Servers.Where(s => !double.IsNaN(s.Cores)).Sum(s => s.Cores);

    public override string ToString() => string.Join(", ",
        Servers.Select(s => $"{s.Name} {s.Cores:F2}").Append($"wrk {Wrk:F2}").Append($"other {Other:F2}").Append($"idle {Idle:F2}"));
}

/// <summary>
/// Reads /proc (Linux): the servers' CPU from /proc/PID/stat, wrk's from this process's reaped-children
/// counters (wrk is the only child that exits during a run), the rest of the machine from /proc/stat.
/// </summary>
public sealed class CpuMeter(IReadOnlyList<(string Name, int Pid)> servers)
{
    // /proc counts CPU time in USER_HZ ticks, which Linux fixes at 100 a second.
    private const double TicksPerSecond = 100;

    public CpuSample Take()
    {
        var (busy, total) = MachineTicks();
        var self = StatFields(Environment.ProcessId);
        return new CpuSample(Stopwatch.GetTimestamp(), busy, total, self is null ? 0 : self[13] + self[14],
            [.. servers.Select(s => StatFields(s.Pid) is { } f ? f[11] + f[12] : (long?)null)]);
    }

    public CpuUse Between(CpuSample before, CpuSample after)
    {
        var seconds = Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp).TotalSeconds;
        double Cores(long ticks) => ticks / TicksPerSecond / seconds;

        var serverCores = servers.Select((s, i) => (s.Name,
            before.ProcessTicks[i] is { } b && after.ProcessTicks[i] is { } a ? Cores(a - b) : double.NaN)).ToList();
        var wrk = Cores(after.ReapedChildrenTicks - before.ReapedChildrenTicks);
        var busy = Cores(after.MachineBusyTicks - before.MachineBusyTicks);
        var all = Cores(after.MachineTotalTicks - before.MachineTotalTicks);
        var other = Math.Max(0, busy - wrk - serverCores.Where(s => !double.IsNaN(s.Item2)).Sum(s => s.Item2));
        return new CpuUse(serverCores, wrk, other, all - busy);
    }

    /// <summary>The fields of /proc/PID/stat after the command name; index 0 is field 3 (state), so field N is N - 3.</summary>
    private static long[]? StatFields(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var rest = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return [.. rest.Select(f => long.TryParse(f, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0)];
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static (long Busy, long Total) MachineTicks()
    {
        // "cpu  user nice system idle iowait irq softirq steal ...": idle and iowait are the idle part.
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        var total = fields.Sum();
        return (total - fields[3] - fields[4], total);
    }
}

/// <summary>The machine, as the report states it.</summary>
public static class Machine
{
    public static string Describe()
    {
        var model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))
            ?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        var memoryKb = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal))
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        var os = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?.Split('=', 2)[1].Trim('"')
            : null;
        return $"{Environment.ProcessorCount} cores ({model}), {long.Parse(memoryKb, CultureInfo.InvariantCulture) / 1024.0 / 1024:F1} GiB, " +
            $"{os ?? Environment.OSVersion.ToString()}, kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, .NET {Environment.Version}";
    }

    /// <summary>The 1-minute load average: how busy the (shared) machine was just before a run.</summary>
    public static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ')[0];
}
