using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace TicketQueue.HttpBenchmark;

/// <summary>The users a wrk run sends: tokens [First, First + Count) of the token file, or none at all.</summary>
public sealed record TokenRange(int First, int Count)
{
    public static readonly TokenRange None = new(0, 0);
}

/// <summary>What wrk's done() reported (rotate-tokens.lua prints it as one JSON line).</summary>
public sealed record WrkResult(
    long Requests, long DurationUs, long Bytes, long ConnectErrors, long ReadErrors, long WriteErrors, long StatusErrors,
    long Timeouts, double MeanUs, long P50Us, long P90Us, long P99Us, long MaxUs, long[] Sent, long[] Slices)
{
    public double RequestsPerSecond => Requests / (DurationUs / 1e6);

    /// <summary>Connect, read and write errors (wrk's "Socket errors", without timeouts).</summary>
    public long SocketErrors => ConnectErrors + ReadErrors + WriteErrors;

    /// <summary>Requests handed to the server: finished ones and those still in flight when wrk stopped.</summary>
    public long SentTotal => Sent.Sum();

    /// <summary>Distinct users sent: a thread walks its slice in order, so it sent min(its requests, its slice).</summary>
    public long DistinctUsers => Sent.Zip(Slices, Math.Min).Sum();
}

/// <summary>Runs Debian's wrk with rotate-tokens.lua and reads its result.</summary>
public static class Wrk
{
    private const string ResultMarker = "WRK-RESULT ";

    /// <summary>Installs wrk with apt-get when it is not on PATH; returns its version line.</summary>
    public static async Task<string> Ensure(CancellationToken cancellationToken)
    {
        if (await Version(cancellationToken) is { } installed)
        {
            return installed;
        }

        Console.WriteLine("wrk is not installed: apt-get update && apt-get install -y wrk");
        foreach (var arguments in new[] { "update -qq", "install -y -qq wrk" })
        {
            var (exitCode, output) = await Run("apt-get", arguments.Split(' '), cancellationToken);
            if (exitCode != 0)
            {
                throw new InvalidOperationException($"apt-get {arguments} failed ({exitCode}):\n{output}");
            }
        }

        return await Version(cancellationToken) ?? throw new InvalidOperationException("wrk is still not on PATH after apt-get install wrk.");
    }

    public static async Task<(WrkResult Result, string Output)> Run(string baseUrl, string method, string path, string tokenFile, int recordLength,
        TokenRange users, HttpOptions options, int durationSeconds, CancellationToken cancellationToken)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "rotate-tokens.lua");
        string[] arguments =
        [
            $"-t{options.Threads}", $"-c{options.Connections}", $"-d{durationSeconds}s", $"--timeout", $"{options.TimeoutSeconds}s",
            "--latency", "-s", script, baseUrl, "--",
            tokenFile, Invariant(recordLength), Invariant(users.First), Invariant(users.Count), Invariant(options.Threads),
            method, path, users.Count > 0 ? "token" : "none",
        ];
        var (exitCode, output) = await Run("wrk", arguments, cancellationToken);
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(ResultMarker, StringComparison.Ordinal));
        if (exitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"wrk {string.Join(' ', arguments)} failed (exit code {exitCode}):\n{output}");
        }

        var result = JsonSerializer.Deserialize<WrkResult>(line[ResultMarker.Length..], new JsonSerializerOptions(JsonSerializerDefaults.Web))
            ?? throw new InvalidOperationException($"wrk printed an empty result: {line}");
        return (result, output.Replace(line, "").TrimEnd());
    }

    private static async Task<string?> Version(CancellationToken cancellationToken)
    {
        try
        {
            // wrk has no --version: it prints its version line with the usage, and exits 1.
            var (_, output) = await Run("wrk", ["--version"], cancellationToken);
            return output.Split('\n').FirstOrDefault(l => l.StartsWith("wrk ", StringComparison.Ordinal))?.Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static async Task<(int ExitCode, string Output)> Run(string fileName, IEnumerable<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, (await stdout + await stderr).TrimEnd());
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
