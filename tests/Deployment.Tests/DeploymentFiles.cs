namespace TicketQueue.Deployment.Tests;

/// <summary>The compose file and the facts about the code, read once per test class.</summary>
public sealed class DeploymentFiles
{
    /// <summary>How appsettings.json marks its development defaults (AuthOptions.DevelopmentMarker).</summary>
    public const string DevelopmentMarker = "DEVELOPMENT-ONLY";

    public ComposeFile Compose { get; } = ComposeFile.Load();

    public ConfigurationReadByCode Configuration { get; } = new();

    /// <summary>The services built from this repository: the TicketQueue processes, not the infrastructure they use.</summary>
    public IReadOnlyList<ComposeService> BuiltServices => [.. Compose.Services.Values.Where(service => service.BuildContext is not null)];

    /// <summary>The silos: the services built from the project in src/Silo.</summary>
    public IReadOnlyList<ComposeService> Silos => [.. BuiltServices.Where(service => ProjectOf(service).Name == "Silo")];

    /// <summary>The project a service is built from: the one in its Dockerfile's folder.</summary>
    public static DotnetProject ProjectOf(ComposeService service) =>
        DotnetProject.InFolder(Path.GetDirectoryName(service.Dockerfile)!);

    public static Dockerfile DockerfileOf(ComposeService service) => Dockerfile.Load(service.Dockerfile!);

    /// <summary>
    /// A setting as the service sees it: its compose environment first, then its appsettings.json.
    /// Configuration keys are case-insensitive; environment variables spell sections with "__".
    /// </summary>
    public static string? Setting(ComposeService service, string key) => Setting(service.Environment, ProjectOf(service), key);

    /// <summary>A setting as a process sees it: the environment it is given first, then its project's appsettings.json.</summary>
    public static string? Setting(IReadOnlyDictionary<string, string> environment, DotnetProject project, string key) =>
        Variable(environment, key.Replace(":", "__", StringComparison.Ordinal)) ?? AppSettings.Of(project)[key];

    public static string? Variable(IReadOnlyDictionary<string, string> environment, string name) =>
        environment.FirstOrDefault(variable => string.Equals(variable.Key, name, StringComparison.OrdinalIgnoreCase)).Value;
}

public static class Expect
{
    /// <summary>Fails with every problem listed, one a line, under an optional heading, when there is any.</summary>
    public static void None(IEnumerable<string> problems, string? heading = null)
    {
        var list = problems.ToList();
        if (list.Count > 0)
        {
            Assert.Fail(string.Join('\n', heading is null ? list : [heading, .. list.Select(problem => "  " + problem)]));
        }
    }
}
