using System.Text.Json;

namespace TicketQueue.Deployment.Tests;

public sealed record DockerInstruction(string Keyword, string Arguments)
{
    /// <summary>The arguments split on white space (Dockerfiles in this repository quote nothing that holds spaces).</summary>
    public IReadOnlyList<string> Words => Arguments.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}

/// <summary>A Dockerfile read into stages of instructions: enough to check what the image copies, runs and exposes.</summary>
public sealed class Dockerfile
{
    private Dockerfile(string path, IReadOnlyList<IReadOnlyList<DockerInstruction>> stages)
    {
        Path = path;
        Stages = stages;
    }

    /// <summary>The path relative to the repository root.</summary>
    public string Path { get; }

    /// <summary>Each stage's instructions, its FROM first.</summary>
    public IReadOnlyList<IReadOnlyList<DockerInstruction>> Stages { get; }

    /// <summary>The stage that becomes the image.</summary>
    public IReadOnlyList<DockerInstruction> FinalStage => Stages[^1];

    public static string BaseImageOf(IReadOnlyList<DockerInstruction> stage) =>
        stage[0].Words.First(word => !word.StartsWith("--", StringComparison.Ordinal));

    /// <summary>The ENTRYPOINT of the image in exec form (a JSON array), or empty when it has none.</summary>
    public IReadOnlyList<string> Entrypoint =>
        FinalStage.LastOrDefault(i => i.Keyword == "ENTRYPOINT") is { } entrypoint
            ? JsonSerializer.Deserialize<List<string>>(entrypoint.Arguments) ?? []
            : [];

    public IReadOnlySet<int> ExposedPorts => FinalStage
        .Where(i => i.Keyword == "EXPOSE")
        .SelectMany(i => i.Words)
        .Select(port => int.Parse(port.Split('/')[0], System.Globalization.CultureInfo.InvariantCulture))
        .ToHashSet();

    public string? User => FinalStage.LastOrDefault(i => i.Keyword == "USER")?.Arguments;

    /// <summary>The ENV variables the image sets (KEY=value pairs, or the older "ENV KEY value").</summary>
    public IReadOnlyDictionary<string, string> Environment
    {
        get
        {
            var variables = new Dictionary<string, string>();
            foreach (var env in FinalStage.Where(i => i.Keyword == "ENV"))
            {
                if (!env.Words[0].Contains('='))
                {
                    variables[env.Words[0]] = string.Join(' ', env.Words.Skip(1));
                    continue;
                }

                foreach (var pair in env.Words.Select(word => word.Split('=', 2)))
                {
                    variables[pair[0]] = pair[1].Trim('"');
                }
            }

            return variables;
        }
    }

    public static Dockerfile Load(string relativePath)
    {
        var stages = new List<List<DockerInstruction>>();
        foreach (var line in LogicalLines(Repository.Read(relativePath)))
        {
            var parts = line.Split(' ', 2, StringSplitOptions.TrimEntries);
            var instruction = new DockerInstruction(parts[0].ToUpperInvariant(), parts.Length > 1 ? parts[1] : "");
            if (instruction.Keyword == "FROM")
            {
                stages.Add([]);
            }
            else if (stages.Count == 0)
            {
                continue; // ARG before the first FROM
            }

            stages[^1].Add(instruction);
        }

        return stages.Count > 0
            ? new Dockerfile(relativePath, stages)
            : throw new InvalidOperationException($"{relativePath} has no FROM.");
    }

    /// <summary>Instructions one per line: comments and blank lines dropped, backslash continuations joined.</summary>
    private static IEnumerable<string> LogicalLines(string text)
    {
        var pending = "";
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                pending += line[..^1] + " ";
                continue;
            }

            yield return pending + line;
            pending = "";
        }
    }
}
