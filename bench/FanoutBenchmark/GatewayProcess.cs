using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace TicketQueue.FanoutBenchmark;

/// <summary>
/// The gateway as production runs it: its Release build output, a separate process, embedded silo, Production
/// environment, keys of this run, no demo data, free loopback ports. Its output goes to a log file; it is
/// killed when this object is disposed, and by the process-exit hook if the benchmark ends any other way.
/// </summary>
public sealed class GatewayProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private int _warnings;
    private int _errors;
    private bool _closed;
    private bool _detailOfLastProblem;
    private readonly List<string> _firstProblems = [];

    private GatewayProcess(Process process, StreamWriter log, string logPath, Uri address, string accessKey)
    {
        _process = process;
        _log = log;
        LogPath = logPath;
        Address = address;
        AccessKey = accessKey;
    }

    public Uri Address { get; }

    public int Pid => _process.Id;

    public string LogPath { get; }

    /// <summary>The access-token signing key the gateway was started with.</summary>
    public string AccessKey { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>Lines the gateway logged at warning level and at error level or above, so far.</summary>
    public (int Warnings, int Errors, IReadOnlyList<string> First) Problems
    {
        get
        {
            lock (_firstProblems)
            {
                return (_warnings, _errors, [.. _firstProblems]);
            }
        }
    }

    public static string GatewayFolder(string repository) => Path.Combine(repository, "src", "Gateway", "bin", "Release", "net10.0");

    /// <summary>`dotnet build src/Gateway -c Release`, so the run uses the gateway as the tree has it now.</summary>
    public static async Task Build(string repository, CancellationToken cancellationToken)
    {
        using var build = Process.Start(new ProcessStartInfo("dotnet", ["build", Path.Combine(repository, "src", "Gateway"), "-c", "Release", "-nologo", "-v", "q"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        }) ?? throw new InvalidOperationException("dotnet build could not be started.");
        var output = build.StandardOutput.ReadToEndAsync(cancellationToken);
        var errors = build.StandardError.ReadToEndAsync(cancellationToken);
        await build.WaitForExitAsync(cancellationToken);
        if (build.ExitCode != 0)
        {
            throw new InvalidOperationException($"dotnet build src/Gateway -c Release failed:\n{await output}{await errors}");
        }
    }

    public static async Task<GatewayProcess> Start(string repository, CancellationToken cancellationToken)
    {
        var folder = GatewayFolder(repository);
        var dll = Path.Combine(folder, "TicketQueue.Gateway.dll");
        if (!File.Exists(dll))
        {
            throw new InvalidOperationException($"{dll} does not exist: run `dotnet build src/Gateway -c Release` (or drop --no-build).");
        }

        var httpPort = FreePort();
        var accessKey = Secret();
        var start = new ProcessStartInfo("dotnet", [dll])
        {
            WorkingDirectory = folder,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["Urls"] = $"http://127.0.0.1:{httpPort}";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["TicketQueue__Auth__SigningKey"] = accessKey;
        start.Environment["TicketQueue__Tokens__SigningKey"] = Secret();
        start.Environment["TicketQueue__Admin__Password"] = Secret();
        start.Environment["TicketQueue__RateLimits__AuthPerMinute"] = "1000000";
        start.Environment["TicketQueue__SeedDemoData"] = "false";
        start.Environment["Orleans__SiloPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["Orleans__GatewayPort"] = FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);

        var logPath = Path.Combine(Path.GetTempPath(), $"ticketqueue-fanout-gateway-{Environment.ProcessId}.log");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException("The gateway could not be started.");
        var gateway = new GatewayProcess(process, log, logPath, new Uri($"http://127.0.0.1:{httpPort}"), accessKey);
        process.OutputDataReceived += (_, e) => gateway.OnOutput(e.Data);
        process.ErrorDataReceived += (_, e) => gateway.OnOutput(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => gateway.Kill();

        try
        {
            await gateway.WaitUntilReady(cancellationToken);
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    private async Task WaitUntilReady(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The gateway exited with code {_process.ExitCode} while starting; see {LogPath}.");
            }

            try
            {
                using var response = await http.GetAsync(new Uri(Address, "/health/ready"), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new TimeoutException($"The gateway did not become ready within 60 s; see {LogPath}.");
    }

    private void OnOutput(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_firstProblems)
        {
            if (_closed)
            {
                return;
            }

            _log.WriteLine(line);
            // The console logger starts each entry with its level: "warn: ...", "fail: ...", "crit: ...".
            var warning = line.StartsWith("warn:", StringComparison.Ordinal);
            var error = line.StartsWith("fail:", StringComparison.Ordinal) || line.StartsWith("crit:", StringComparison.Ordinal);
            _warnings += warning ? 1 : 0;
            _errors += error ? 1 : 0;
            if ((warning || error) && _firstProblems.Count < 5)
            {
                _firstProblems.Add(line);
                _detailOfLastProblem = true;
            }
            else if (_detailOfLastProblem)
            {
                // The entry's message is on the line after its level and category.
                _firstProblems[^1] += " " + line.Trim();
                _detailOfLastProblem = false;
            }
        }
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It had already gone.
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        lock (_firstProblems)
        {
            _closed = true;
            _log.Dispose();
        }

        _process.Dispose();
    }

    /// <summary>A loopback port nobody listens on now (the OS picks it; the gateway binds it a moment later).</summary>
    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Secret() => Convert.ToHexString(RandomNumberGenerator.GetBytes(32));
}
