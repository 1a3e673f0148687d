using System.Xml.Linq;

namespace TicketQueue.Deployment.Tests;

/// <summary>A project under src/ as MSBuild sees the parts that matter to its image: SDK, assembly name, references.</summary>
public sealed class DotnetProject
{
    private const string BuildPolicy = "Directory.Build.props";

    private readonly XDocument _project;

    private DotnetProject(string relativePath)
    {
        RelativePath = relativePath;
        _project = XDocument.Parse(Repository.Read(relativePath));
    }

    /// <summary>The .csproj path relative to the repository root, e.g. src/Silo/Silo.csproj.</summary>
    public string RelativePath { get; }

    public string Folder => System.IO.Path.GetDirectoryName(RelativePath)!.Replace('\\', '/');

    /// <summary>MSBuildProjectName: the file name without .csproj.</summary>
    public string Name => System.IO.Path.GetFileNameWithoutExtension(RelativePath);

    public string Sdk => _project.Root!.Attribute("Sdk")?.Value ?? "";

    /// <summary>A web project runs on the ASP.NET Core shared framework and reads the ASPNETCORE_ variables.</summary>
    public bool IsWeb => Sdk == "Microsoft.NET.Sdk.Web";

    /// <summary>The project's own AssemblyName, else the one Directory.Build.props gives every project.</summary>
    public string AssemblyName =>
        (Property(_project, "AssemblyName") ?? Property(XDocument.Parse(Repository.Read(BuildPolicy)), "AssemblyName") ?? "$(MSBuildProjectName)")
            .Replace("$(MSBuildProjectName)", Name, StringComparison.Ordinal);

    /// <summary>The .NET version of the target framework of Directory.Build.props: net10.0 gives 10.0.</summary>
    public static string DotnetVersion =>
        Property(XDocument.Parse(Repository.Read(BuildPolicy)), "TargetFramework")!.Replace("net", "", StringComparison.Ordinal);

    /// <summary>This project and every project it references, directly or through another.</summary>
    public IReadOnlyList<DotnetProject> WithReferences()
    {
        var found = new Dictionary<string, DotnetProject>();
        var pending = new Stack<DotnetProject>([this]);
        while (pending.TryPop(out var project))
        {
            if (!found.TryAdd(project.RelativePath, project))
            {
                continue;
            }

            foreach (var reference in project._project.Descendants("ProjectReference"))
            {
                var path = System.IO.Path.Combine(Repository.PathOf(project.Folder), reference.Attribute("Include")!.Value.Replace('\\', '/'));
                pending.Push(new DotnetProject(Repository.Relative(System.IO.Path.GetFullPath(path))));
            }
        }

        return [.. found.Values];
    }

    /// <summary>The one project in a folder, such as the folder that holds a Dockerfile.</summary>
    public static DotnetProject InFolder(string relativeFolder) =>
        Directory.GetFiles(Repository.PathOf(relativeFolder), "*.csproj") switch
        {
            [var single] => new DotnetProject(Repository.Relative(single)),
            var files => throw new InvalidOperationException($"{relativeFolder} holds {files.Length} projects, not one."),
        };

    public override string ToString() => RelativePath;

    private static string? Property(XDocument document, string name) =>
        document.Descendants("PropertyGroup").Elements(name).LastOrDefault()?.Value.Trim();
}
