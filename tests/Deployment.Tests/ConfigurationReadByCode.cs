using System.Text.Json;

namespace TicketQueue.Deployment.Tests;

/// <summary>
/// Which configuration keys a service reads, judged from the sources under src/ and the service's
/// appsettings.json. Configuration keys are case-insensitive, so every comparison here is too.
/// </summary>
public sealed class ConfigurationReadByCode
{
    // One pass over the text finds comments, character literals and string literals in order, so a
    // quote inside a comment or a char literal never starts a string. Only group 1 (a string's text) is kept.
    private static readonly Regex Tokens = new(
        """//[^\n]*|/\*.*?\*/|'(?:[^'\\\n]|\\.)'|@?\$?"((?:[^"\\\n]|\\.)*)["]""",
        RegexOptions.Singleline | RegexOptions.Compiled);

    private static readonly Regex ConnectionStringCall = new("""GetConnectionString\(\s*"([^"]+)"\s*\)""", RegexOptions.Compiled);

    // Configure<SomeOptions>(x.GetSection("Membership")): the section is bound to an options type, perhaps a library's.
    private static readonly Regex BoundSection = new("""Configure<[^>]+>\(\s*[\w.]*GetSection\(\s*"([^"]+)"\s*\)\s*\)""", RegexOptions.Compiled);

    // Keys ASP.NET Core itself reads, as variables with the ASPNETCORE_ prefix and as plain configuration keys.
    private static readonly string[] WebHostKeys = ["URLS", "ENVIRONMENT", "HTTP_PORTS", "HTTPS_PORTS"];

    private readonly HashSet<string> _literals = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _connectionStringNames = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _propertyNames = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _boundSections = new(StringComparer.OrdinalIgnoreCase);

    public ConfigurationReadByCode()
    {
        foreach (var file in Repository.SourceFiles("src", "*.cs"))
        {
            var code = Repository.Read(file);
            var literals = Tokens.Matches(code).Where(m => m.Groups[1].Success).Select(m => m.Groups[1].Value).ToList();
            _literals.UnionWith(literals);
            _connectionStringNames.UnionWith(ConnectionStringCall.Matches(code).Select(m => m.Groups[1].Value));
            _boundSections.UnionWith(BoundSection.Matches(code).Select(m => m.Groups[1].Value));

            // GetConnectionString(name) with the name passed in: the names are the literals of the same file,
            // as in ClusterSettings.Redis => Required(configuration, "Redis").
            if (code.Contains("GetConnectionString(", StringComparison.Ordinal))
            {
                _connectionStringNames.UnionWith(literals);
            }

            // Options classes bound to a section (GetSection(...).Get<T>(), Configure<T>(section)) read their settable properties.
            _propertyNames.UnionWith(Regex.Matches(code, @"public\s+[\w<>?,\s\[\]]+?\s+(\w+)\s*\{\s*get;\s*(?:set|init);")
                .Select(m => m.Groups[1].Value));
        }
    }

    /// <summary>
    /// Whether the service built from <paramref name="project"/> reads the environment variable <paramref name="variable"/>
    /// (A__B__C is the key A:B:C): a DOTNET_ variable or a key ASP.NET Core reads in a web project; a value of the
    /// project's appsettings.json; a connection string the code asks for by name; a key the code spells out, whole
    /// or as its section and leaf; or a key in a section the code binds to an options type.
    /// </summary>
    public bool Reads(DotnetProject project, string variable)
    {
        if (variable.StartsWith("DOTNET_", StringComparison.Ordinal))
        {
            return true;
        }

        // A worker host (Host.CreateApplicationBuilder) reads no ASPNETCORE_ variable.
        if (variable.StartsWith("ASPNETCORE_", StringComparison.Ordinal))
        {
            return project.IsWeb && WebHostKeys.Contains(variable["ASPNETCORE_".Length..], StringComparer.OrdinalIgnoreCase);
        }

        var key = variable.Replace("__", ":", StringComparison.Ordinal);
        if (project.IsWeb && WebHostKeys.Contains(key, StringComparer.OrdinalIgnoreCase))
        {
            return true;
        }

        if (AppSettings.Of(project).HasValue(key))
        {
            return true;
        }

        var sections = key.Split(':');
        if (sections is ["ConnectionStrings", var name])
        {
            return _connectionStringNames.Contains(name);
        }

        if (_literals.Contains(key))
        {
            return true;
        }

        if (sections.Length < 2)
        {
            return false;
        }

        var leaf = sections[^1];
        var parent = string.Join(':', sections[..^1]);
        // An element of a list the code reads whole: GetSection("A:B").Get<string[]>() reads A:B:0, A:B:1...
        if (int.TryParse(leaf, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _) && _literals.Contains(parent))
        {
            return true;
        }

        return _literals.Contains($"{sections[^2]}:{leaf}")
            || (_literals.Contains(parent) && (_literals.Contains(leaf) || _propertyNames.Contains(leaf)))
            || IsUnderBoundSection(sections);
    }

    /// <summary>
    /// Whether the key lies in a section bound to an options type. The section may be named relative to
    /// another (orleans.GetSection("Membership") is Orleans:Membership), so a bound name matches the end of a path.
    /// </summary>
    private bool IsUnderBoundSection(string[] sections) =>
        Enumerable.Range(1, sections.Length - 1)
            .Select(depth => string.Join(':', sections[..depth]))
            .Any(section => _boundSections.Any(bound =>
                section.Equals(bound, StringComparison.OrdinalIgnoreCase)
                || section.EndsWith(":" + bound, StringComparison.OrdinalIgnoreCase)));
}

/// <summary>A project's appsettings.json flattened to configuration keys ("Orleans:GatewayPort") and values.</summary>
public sealed class AppSettings
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.OrdinalIgnoreCase);

    private AppSettings(string? json)
    {
        if (json is not null)
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            Flatten(document.RootElement, "");
        }
    }

    public IReadOnlyDictionary<string, string?> Values => _values;

    public static AppSettings Of(DotnetProject project)
    {
        var path = $"{project.Folder}/appsettings.json";
        return new AppSettings(Repository.FileExists(path) ? Repository.Read(path) : null);
    }

    /// <summary>Whether the file sets this key to a value (not to a section).</summary>
    public bool HasValue(string key) => _values.ContainsKey(key);

    public string? this[string key] => _values.GetValueOrDefault(key);

    private void Flatten(JsonElement element, string prefix)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    Flatten(property.Value, prefix.Length == 0 ? property.Name : $"{prefix}:{property.Name}");
                }

                break;
            case JsonValueKind.Array:
                var index = 0;
                foreach (var item in element.EnumerateArray())
                {
                    Flatten(item, $"{prefix}:{index++}");
                }

                break;
            case JsonValueKind.Null:
                _values[prefix] = null;
                break;
            default:
                _values[prefix] = element.ValueKind == JsonValueKind.String ? element.GetString() : element.GetRawText();
                break;
        }
    }
}
