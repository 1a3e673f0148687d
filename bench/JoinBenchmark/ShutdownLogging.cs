namespace TicketQueue.JoinBenchmark;

/// <summary>Set once the figures are printed: the silo's shutdown chatter is not part of the benchmark.</summary>
internal static class ShutdownLogging
{
    private static volatile bool s_quiet;

    public static bool Quiet
    {
        get => s_quiet;
        set => s_quiet = value;
    }
}
