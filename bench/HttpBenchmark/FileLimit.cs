using System.Runtime.InteropServices;

namespace TicketQueue.HttpBenchmark;

/// <summary>
/// The open-files limit (ulimit -n) of this process, which wrk and the servers inherit: every connection is a
/// file descriptor on both ends, so a low soft limit is raised to the hard one.
/// </summary>
public static partial class FileLimit
{
    private const int NoFile = 7; // RLIMIT_NOFILE on Linux

    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    /// <summary>Raises the soft limit to at least <paramref name="needed"/> if the hard limit allows; returns the limit now.</summary>
    public static ulong Raise(ulong needed)
    {
        if (getrlimit(NoFile, out var limit) != 0)
        {
            throw new InvalidOperationException($"getrlimit(RLIMIT_NOFILE) failed: errno {Marshal.GetLastPInvokeError()}.");
        }

        if (limit.Current >= needed)
        {
            return limit.Current;
        }

        limit.Current = Math.Min(Math.Max(needed, limit.Current), limit.Maximum);
        if (setrlimit(NoFile, ref limit) != 0)
        {
            throw new InvalidOperationException($"setrlimit(RLIMIT_NOFILE, {limit.Current}) failed: errno {Marshal.GetLastPInvokeError()}.");
        }

        return limit.Current;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getrlimit(int resource, out ResourceLimit limit);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setrlimit(int resource, ref ResourceLimit limit);
}
