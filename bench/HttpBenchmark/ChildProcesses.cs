using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TicketQueue.HttpBenchmark;

/// <summary>
/// The servers this benchmark starts (gateway, redis-server, baseline). Each is stopped when the benchmark
/// is done with it, and all that are still running are stopped on any exit: normal, exception, Ctrl-C or
/// SIGTERM. Their output is kept (the last lines) to show when one fails.
/// </summary>
public sealed class ChildProcesses : IDisposable
{
    private readonly ConcurrentDictionary<int, ChildProcess> _running = new();
    private readonly List<PosixSignalRegistration> _signals = [];
    private readonly CancellationTokenSource _stop = new();

    public ChildProcesses()
    {
        // A signal cancels the run; the code in flight unwinds through its finally blocks, which stop the servers.
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            _signals.Add(PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true;
                Console.Error.WriteLine($"{signal}: stopping the servers this benchmark started.");
                _stop.Cancel();
            }));
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) => StopAll();
    }

    /// <summary>Cancelled by Ctrl-C or SIGTERM.</summary>
    public CancellationToken Stopping => _stop.Token;

    public ChildProcess Start(string name, string fileName, IEnumerable<string> arguments, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        Stopping.ThrowIfCancellationRequested();
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var child = new ChildProcess(name, process, this);
        _running[process.Id] = child;
        return child;
    }

    /// <summary>A loopback TCP port nobody listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal void Forget(int pid) => _running.TryRemove(pid, out _);

    private void StopAll()
    {
        foreach (var child in _running.Values)
        {
            child.Dispose();
        }
    }

    public void Dispose()
    {
        StopAll();
        foreach (var signal in _signals)
        {
            signal.Dispose();
        }

        _stop.Dispose();
    }
}

/// <summary>One started server: its pid, its recent output, and a way to stop it and everything it started.</summary>
public sealed class ChildProcess : IDisposable
{
    private const int KeptLines = 60;

    private readonly Process _process;
    private readonly ChildProcesses _owner;
    private readonly Queue<string> _lastLines = new();

    internal ChildProcess(string name, Process process, ChildProcesses owner)
    {
        Name = name;
        _process = process;
        _owner = owner;
        Pid = process.Id;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public int Pid { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The last lines it wrote to stdout and stderr, for a failure report.</summary>
    public string RecentOutput()
    {
        lock (_lastLines)
        {
            return string.Join('\n', _lastLines.Select(line => $"    [{Name}] {line}"));
        }
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lastLines)
        {
            _lastLines.Enqueue(line);
            while (_lastLines.Count > KeptLines)
            {
                _lastLines.Dequeue();
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // It exited between the check and the kill.
        }

        _owner.Forget(Pid);
        _process.Dispose();
    }
}
