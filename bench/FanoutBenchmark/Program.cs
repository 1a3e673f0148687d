using System.Runtime.InteropServices;
using TicketQueue.FanoutBenchmark;

// Live position fan-out: N SignalR connections follow one event; how long until a cursor message reaches the
// last of them, and what a connection costs the gateway. See FanoutOptions.Usage and docs/performance.md.
FanoutOptions options;
try
{
    options = FanoutOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

// Ctrl-C and SIGTERM cancel the run, so that the gateway and the connections are stopped on the way out.
using var stopping = new CancellationTokenSource();
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

try
{
    return await FanoutRun.Execute(options, args, stopping.Token);
}
catch (OperationCanceledException) when (stopping.IsCancellationRequested)
{
    Console.Error.WriteLine("Interrupted: the gateway and the connections were stopped.");
    return 130;
}
catch (Exception e) when (e is InvalidOperationException or TimeoutException or HttpRequestException)
{
    Console.Error.WriteLine($"FAILED: {e.Message}");
    return 1;
}

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    stopping.Cancel();
}
