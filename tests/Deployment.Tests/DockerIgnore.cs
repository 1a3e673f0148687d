using System.Text;

namespace TicketQueue.Deployment.Tests;

/// <summary>
/// .dockerignore as Docker applies it: patterns are relative to the context root, <c>*</c> and <c>?</c>
/// stay within one folder, <c>**</c> spans any number of folders, a pattern that matches a folder
/// leaves out everything in it, <c>!</c> takes a path back in, and the last matching line wins.
/// </summary>
public sealed class DockerIgnore
{
    public const string FileName = ".dockerignore";

    private readonly List<(Regex Pattern, bool Excludes)> _rules = [];

    private DockerIgnore(string text)
    {
        foreach (var rawLine in text.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var excludes = !line.StartsWith('!');
            var pattern = line.TrimStart('!').Trim('/');
            _rules.Add((ToRegex(pattern), excludes));
        }
    }

    public static DockerIgnore Load() => new(Repository.Read(FileName));

    /// <summary>Whether a path of the repository (forward slashes, relative to the root) stays out of the build context.</summary>
    public bool Excludes(string relativePath)
    {
        var selfAndFolders = Enumerable.Range(1, relativePath.Count(c => c == '/') + 1)
            .Select(depth => string.Join('/', relativePath.Split('/').Take(depth)))
            .ToList();
        var excluded = false;
        foreach (var (pattern, excludes) in _rules)
        {
            if (selfAndFolders.Any(pattern.IsMatch))
            {
                excluded = excludes;
            }
        }

        return excluded;
    }

    private static Regex ToRegex(string glob)
    {
        var regex = new StringBuilder("^");
        for (var i = 0; i < glob.Length; i++)
        {
            if (glob[i] == '*' && i + 1 < glob.Length && glob[i + 1] == '*')
            {
                var folders = i + 2 < glob.Length && glob[i + 2] == '/';
                regex.Append(folders ? "(?:.*/)?" : ".*");
                i += folders ? 2 : 1;
            }
            else
            {
                regex.Append(glob[i] switch
                {
                    '*' => "[^/]*",
                    '?' => "[^/]",
                    var c => Regex.Escape(c.ToString()),
                });
            }
        }

        return new Regex(regex.Append('$').ToString());
    }
}
