namespace TicketQueue.Deployment.Tests;

/// <summary>The checkout under test: the folder that holds TicketQueue.sln, found above the test binaries.</summary>
public static class Repository
{
    public static string Root { get; } = FindRoot();

    /// <summary>The absolute path of a path relative to the root.</summary>
    public static string PathOf(string relativePath) => Path.GetFullPath(Path.Combine(Root, relativePath));

    public static bool FileExists(string relativePath) => File.Exists(PathOf(relativePath));

    public static string Read(string relativePath) => File.ReadAllText(PathOf(relativePath));

    /// <summary>A path relative to the root, with forward slashes.</summary>
    public static string Relative(string absolutePath) => Path.GetRelativePath(Root, absolutePath).Replace('\\', '/');

    /// <summary>The files under a folder of the root, leaving out build output (bin, obj, node_modules, the front end's ClientApp/dist).</summary>
    public static IEnumerable<string> SourceFiles(string relativeFolder, string searchPattern = "*") =>
        Directory.EnumerateFiles(PathOf(relativeFolder), searchPattern, SearchOption.AllDirectories)
            .Select(Relative)
            .Where(path => !path.Split('/').Any(segment => segment is "bin" or "obj" or "node_modules")
                && !path.Contains("/ClientApp/dist/", StringComparison.Ordinal));

    private static string FindRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "TicketQueue.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} holds TicketQueue.sln.");
    }
}
