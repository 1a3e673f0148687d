using System.Diagnostics;
using System.Runtime;
using System.Runtime.InteropServices;

namespace TicketQueue.Bench;

/// <summary>The machine a figure was measured on, and how busy it was, read from /proc where Linux offers it.</summary>
public static class Machine
{
    public static string Describe() =>
        $"{Environment.ProcessorCount} cores ({CpuModel()}), {MemoryTotal()}, {OperatingSystem()}, " +
        $"{RuntimeInformation.FrameworkDescription}, {(GCSettings.IsServerGC ? "server" : "workstation")} GC";

    public static TimeSpan ProcessCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    /// <summary>Busy and total jiffies of all cores, from the first line of /proc/stat; null where there is none.</summary>
    public static (long Busy, long Total)? Cpu()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..]
                .Select(long.Parse).ToArray();
            var idle = fields[3] + fields[4]; // idle, iowait
            var total = fields[..8].Sum(); // user nice system idle iowait irq softirq steal; guest time is inside user
            return (total - idle, total);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static string Busy((long Busy, long Total)? before, (long Busy, long Total)? after) =>
        before is { } b && after is { } a && a.Total > b.Total
            ? $"{(double)(a.Busy - b.Busy) / (a.Total - b.Total):P0} of {Environment.ProcessorCount} cores"
            : "n/a";

    /// <summary>The command line as typed after the program's name, for pasting next to the figures.</summary>
    public static string CommandLine(string project, string[] args) =>
        $"dotnet run -c Release --project {project}" + (args.Length == 0 ? "" : " -- " + string.Join(' ', args.Select(Quote)));

    public static string LoadAverage() =>
        Read("/proc/loadavg") is { } text && text.Split(' ') is [var one, var five, var fifteen, ..] ? $"{one} {five} {fifteen}" : "n/a";

    private static string Quote(string arg) => arg.Length > 0 && arg.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' or ',' or '=' or '/' or ':')
        ? arg
        : "'" + arg.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    private static string CpuModel() =>
        Read("/proc/cpuinfo")?.Split('\n').FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
        ?? RuntimeInformation.ProcessArchitecture.ToString();

    private static string MemoryTotal() =>
        Read("/proc/meminfo")?.Split('\n').FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal)) is { } line
        && long.TryParse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], out var kb)
            ? $"{kb / 1024.0 / 1024.0:F1} GiB"
            : "memory n/a";

    private static string OperatingSystem() =>
        (Read("/etc/os-release")?.Split('\n').FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?["PRETTY_NAME=".Length..].Trim('"')
            ?? RuntimeInformation.OSDescription) + (Read("/proc/sys/kernel/osrelease")?.Trim() is { } kernel ? $", kernel {kernel}" : "");

    private static string? Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
