using System.Runtime;
using System.Runtime.InteropServices;

namespace TicketQueue.JoinBenchmark;

/// <summary>The machine a figure was measured on, read from /proc and /etc where Linux offers them.</summary>
internal static class Machine
{
    public static string Describe() =>
        $"{Environment.ProcessorCount} cores ({CpuModel()}), {MemoryTotal()}, {OperatingSystem()}, " +
        $"{RuntimeInformation.FrameworkDescription}, {(GCSettings.IsServerGC ? "server" : "workstation")} GC";

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

    // On Linux, OSDescription is the distribution's name (os-release); the kernel is worth stating too.
    private static string OperatingSystem() =>
        RuntimeInformation.OSDescription + (Read("/proc/sys/kernel/osrelease")?.Trim() is { Length: > 0 } kernel ? $", kernel {kernel}" : "");

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
