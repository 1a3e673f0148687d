using System.Diagnostics;
using System.Globalization;

namespace TicketQueue.Bench;

/// <summary>
/// Where the machine's CPU went while a benchmark measured (this client, each silo, PostgreSQL with its
/// backends, Redis, everything else) and how much memory the silos hold, read from /proc for the processes
/// the command line named. Linux only: a process that cannot be read is reported as such, not guessed.
/// </summary>
public sealed class ClusterProcesses
{
    // /proc/stat and /proc/<pid>/stat count CPU time in USER_HZ ticks, which Linux fixes at 100 a second.
    private const double TicksPerSecond = 100;

    private readonly List<WatchedProcess> _processes = [];

    public ClusterProcesses(ClusterClientOptions options)
    {
        for (var i = 0; i < options.SiloPids.Count; i++)
        {
            _processes.Add(new WatchedProcess($"silo {i + 1}", options.SiloPids[i], ProcessRole.Silo));
        }

        if (options.PostgresPid is { } postgres)
        {
            _processes.Add(new WatchedProcess("PostgreSQL", postgres, ProcessRole.Postgres));
        }

        if (options.RedisPid is { } redis)
        {
            _processes.Add(new WatchedProcess("Redis", redis, ProcessRole.Redis));
        }
    }

    public Sample Take() => new(
        Stopwatch.GetTimestamp(),
        Machine.Cpu(),
        ProcessTicks(Environment.ProcessId, withChildren: false).Ticks ?? 0,
        [.. _processes.Select(p =>
        {
            var (ticks, children) = ProcessTicks(p.Pid, withChildren: p.Role == ProcessRole.Postgres);
            return new ProcessUsage(ticks, children, p.Role == ProcessRole.Silo ? RssBytes(p.Pid) : null);
        })]);

    /// <summary>CPU of each process between two samples, in cores busy on average, and the silos' memory at both.</summary>
    public CpuSplit Between(Sample before, Sample after, string during)
    {
        var wallSeconds = Stopwatch.GetElapsedTime(before.Timestamp, after.Timestamp).TotalSeconds;
        double Cores(long ticks) => ticks / TicksPerSecond / wallSeconds;

        var client = Cores(after.ClientTicks - before.ClientTicks);
        var lines = new List<string>
        {
            $"Where the CPU went during {during} (from /proc: cores busy on average, of {Environment.ProcessorCount})",
            Line($"this client (pid {Environment.ProcessId})", client.ToString("F2", CultureInfo.InvariantCulture)),
        };

        double silos = 0, postgres = 0, redis = 0;
        long? siloRssBefore = 0, siloRssAfter = 0;
        for (var i = 0; i < _processes.Count; i++)
        {
            var process = _processes[i];
            var (b, a) = (before.Processes[i], after.Processes[i]);
            if (b.Ticks is not { } ticksBefore || a.Ticks is not { } ticksAfter)
            {
                lines.Add(Line($"{process.Name} (pid {process.Pid})", "n/a: /proc/<pid>/stat could not be read (not running?)"));
                if (process.Role == ProcessRole.Silo)
                {
                    siloRssBefore = siloRssAfter = null;
                }

                continue;
            }

            var cores = Cores(ticksAfter - ticksBefore);
            var label = process.Role == ProcessRole.Postgres
                ? $"{process.Name} (pid {process.Pid} and {a.Children} children)"
                : $"{process.Name} (pid {process.Pid})";
            var memory = process.Role == ProcessRole.Silo ? $"   VmRSS {Mib(b.RssBytes)} -> {Mib(a.RssBytes)}" : "";
            lines.Add(Line(label, cores.ToString("F2", CultureInfo.InvariantCulture) + memory));
            switch (process.Role)
            {
                case ProcessRole.Silo:
                    silos += cores;
                    siloRssBefore += b.RssBytes;
                    siloRssAfter += a.RssBytes;
                    break;
                case ProcessRole.Postgres:
                    postgres += cores;
                    break;
                case ProcessRole.Redis:
                    redis += cores;
                    break;
            }
        }

        double? other = null, idle = null;
        if (before.Machine is { } mb && after.Machine is { } ma && ma.Total > mb.Total)
        {
            // The machine's counters are summed over all cores; its total over the interval is wall time x cores.
            var busy = (double)(ma.Busy - mb.Busy) / (ma.Total - mb.Total) * Environment.ProcessorCount;
            other = busy - client - silos - postgres - redis;
            idle = Environment.ProcessorCount - busy;
            lines.Add(Line("everything else", $"{other:F2}   (other processes on the machine, kernel threads, processes not named)"));
            lines.Add(Line("idle", $"{idle:F2}"));
        }

        return new CpuSplit(client, silos, postgres, redis, other, idle, siloRssBefore, siloRssAfter, lines);
    }

    public static string Mib(long? bytes) => bytes is { } b ? $"{b / 1024.0 / 1024.0:F1} MiB" : "n/a";

    private static string Line(string label, string value) => $"  {label,-40} {value}";

    // User and system time of a process and of its children it has waited for (PostgreSQL's postmaster
    // reaps its exited backends, so their time is counted); with children, also that of each live process
    // whose parent it is.
    private static (long? Ticks, int Children) ProcessTicks(int pid, bool withChildren)
    {
        if (Stat(pid) is not { } own)
        {
            return (null, 0);
        }

        var ticks = own.UserTicks + own.SystemTicks + own.ChildUserTicks + own.ChildSystemTicks;
        var children = 0;
        if (withChildren)
        {
            foreach (var directory in Directory.EnumerateDirectories("/proc"))
            {
                if (int.TryParse(Path.GetFileName(directory), out var other) && other != pid && Stat(other) is { } stat && stat.ParentPid == pid)
                {
                    ticks += stat.UserTicks + stat.SystemTicks;
                    children++;
                }
            }
        }

        return (ticks, children);
    }

    private static ProcStat? Stat(int pid)
    {
        try
        {
            // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15, cutime 16, cstime 17.
            return new ProcStat(int.Parse(fields[1], CultureInfo.InvariantCulture), long.Parse(fields[11], CultureInfo.InvariantCulture),
                long.Parse(fields[12], CultureInfo.InvariantCulture), long.Parse(fields[13], CultureInfo.InvariantCulture),
                long.Parse(fields[14], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    private static long? RssBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    public sealed record Sample(long Timestamp, (long Busy, long Total)? Machine, long ClientTicks, IReadOnlyList<ProcessUsage> Processes);

    public sealed record ProcessUsage(long? Ticks, int Children, long? RssBytes);

    private sealed record WatchedProcess(string Name, int Pid, ProcessRole Role);

    private sealed record ProcStat(int ParentPid, long UserTicks, long SystemTicks, long ChildUserTicks, long ChildSystemTicks);

    private enum ProcessRole
    {
        Silo,
        Postgres,
        Redis,
    }
}

/// <summary>
/// CPU in cores busy on average (null where /proc could not tell), the silos' summed VmRSS at the start and
/// the end, and the report's lines.
/// </summary>
public sealed record CpuSplit(
    double Client,
    double Silos,
    double Postgres,
    double Redis,
    double? Other,
    double? Idle,
    long? SiloRssBefore,
    long? SiloRssAfter,
    IReadOnlyList<string> Lines);
