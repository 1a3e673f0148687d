namespace TicketQueue.Integration.Tests.Infrastructure;

/// <summary>Finds files of the repository this test assembly was built from.</summary>
public static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    public static string File(string relative) => Path.Combine(Root, relative);

#if DEBUG
    public const string Configuration = "Debug";
#else
    public const string Configuration = "Release";
#endif

    /// <summary>The built assembly of a src/ project, as the solution build left it.</summary>
    public static string Built(string project) =>
        Path.Combine(Root, "src", project, "bin", Configuration, "net10.0", $"TicketQueue.{project}.dll");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (System.IO.File.Exists(Path.Combine(directory.FullName, "TicketQueue.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("The repository root (TicketQueue.sln) is not above " + AppContext.BaseDirectory);
    }
}
