using System.Text.Json;

namespace TicketQueue.JoinBenchmark;

/// <summary>The figures of one run, as a --sizes series reads them back from the run's --result-file.</summary>
public sealed record OneRunResult(
    int Users,
    string Storage,
    double ElapsedSeconds,
    double JoinsPerSecond,
    double MeanMs,
    double P99Ms,
    double? LiveBytesPerUser,
    bool Passed)
{
    public static async Task Write(string path, OneRunResult result)
    {
        await using var file = File.Create(path);
        await JsonSerializer.SerializeAsync(file, result);
    }

    public static async Task<OneRunResult?> Read(string path)
    {
        if (!File.Exists(path) || new FileInfo(path).Length == 0)
        {
            return null;
        }

        await using var file = File.OpenRead(path);
        return await JsonSerializer.DeserializeAsync<OneRunResult>(file);
    }
}
