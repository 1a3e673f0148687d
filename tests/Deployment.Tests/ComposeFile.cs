using YamlDotNet.RepresentationModel;

namespace TicketQueue.Deployment.Tests;

/// <summary>
/// docker-compose.yml as Docker Compose reads it: services, their settings in either of the
/// syntaxes Compose accepts (an environment map or a list of KEY=value), and the named volumes.
/// YAML aliases (<c>silo2: *silo</c>) are resolved by the parser.
/// </summary>
public sealed class ComposeFile
{
    public const string FileName = "docker-compose.yml";

    private ComposeFile(YamlMappingNode root)
    {
        var services = root.Child("services") as YamlMappingNode
            ?? throw new InvalidOperationException($"{FileName} has no services mapping.");
        Services = services.Children.ToDictionary(
            entry => ((YamlScalarNode)entry.Key).Value!,
            entry => new ComposeService(((YamlScalarNode)entry.Key).Value!, (YamlMappingNode)entry.Value));
        DeclaredVolumes = root.Child("volumes") is YamlMappingNode volumes
            ? volumes.Children.Keys.Select(key => ((YamlScalarNode)key).Value!).ToHashSet()
            : [];
    }

    public IReadOnlyDictionary<string, ComposeService> Services { get; }

    /// <summary>The named volumes of the top-level <c>volumes</c> key.</summary>
    public IReadOnlySet<string> DeclaredVolumes { get; }

    public ComposeService this[string serviceName] =>
        Services.TryGetValue(serviceName, out var service)
            ? service
            : throw new KeyNotFoundException($"{FileName} has no service '{serviceName}'.");

    public static ComposeFile Load()
    {
        var yaml = new YamlStream();
        using var reader = new StringReader(Repository.Read(FileName));
        yaml.Load(reader);
        return new ComposeFile((YamlMappingNode)yaml.Documents.Single().RootNode);
    }
}

public sealed class ComposeService(string name, YamlMappingNode node)
{
    public string Name { get; } = name;

    public string? Image => node.Scalar("image");

    /// <summary>The restart policy; null for Compose's default, "no".</summary>
    public string? Restart => node.Scalar("restart");

    /// <summary>The build context, relative to the compose file; null for a service that only pulls an image.</summary>
    public string? BuildContext => node.Child("build") switch
    {
        YamlScalarNode context => context.Value,
        YamlMappingNode build => build.Scalar("context"),
        _ => null,
    };

    /// <summary>The Dockerfile relative to the repository root (Compose's default is Dockerfile in the context).</summary>
    public string? Dockerfile => BuildContext is { } context
        ? Repository.Relative(Path.Combine(Repository.PathOf(context), (node.Child("build") as YamlMappingNode)?.Scalar("dockerfile") ?? "Dockerfile"))
        : null;

    public IReadOnlyDictionary<string, string> Environment => node.Child("environment") switch
    {
        YamlMappingNode map => map.Children.ToDictionary(e => ((YamlScalarNode)e.Key).Value!, e => (e.Value as YamlScalarNode)?.Value ?? ""),
        YamlSequenceNode list => list.Children.Cast<YamlScalarNode>()
            .Select(item => item.Value!.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => pair.Length > 1 ? pair[1] : ""),
        _ => new Dictionary<string, string>(),
    };

    /// <summary>The healthcheck command as one line (the words of an exec-form test joined), or null when there is none.</summary>
    public string? HealthcheckCommand
    {
        get
        {
            if (node.Child("healthcheck") is not YamlMappingNode healthcheck || healthcheck.Scalar("disable") == "true")
            {
                return null;
            }

            var words = healthcheck.Child("test") switch
            {
                YamlScalarNode test => [test.Value!],
                YamlSequenceNode test => test.Children.Cast<YamlScalarNode>().Select(word => word.Value!).ToList(),
                _ => new List<string>(),
            };

            return words is [] or ["NONE", ..] ? null : string.Join(' ', words);
        }
    }

    /// <summary>Each service this one waits for, with its condition (service_started when none is given).</summary>
    public IReadOnlyDictionary<string, string> DependsOn => node.Child("depends_on") switch
    {
        YamlSequenceNode list => list.Children.Cast<YamlScalarNode>().ToDictionary(s => s.Value!, _ => "service_started"),
        YamlMappingNode map => map.Children.ToDictionary(
            e => ((YamlScalarNode)e.Key).Value!,
            e => (e.Value as YamlMappingNode)?.Scalar("condition") ?? "service_started"),
        _ => new Dictionary<string, string>(),
    };

    /// <summary>The published ports, short ("5000:8080", "127.0.0.1:5000:8080/tcp") or long syntax.</summary>
    public IReadOnlyList<PortMapping> Ports => node.Child("ports") is YamlSequenceNode ports
        ? ports.Children.Select(PortMapping.From).ToList()
        : [];

    public IReadOnlyList<VolumeMount> Volumes => node.Child("volumes") is YamlSequenceNode volumes
        ? volumes.Children.Select(VolumeMount.From).ToList()
        : [];

    public override string ToString() => Name;
}

public sealed record PortMapping(string? Published, int Target)
{
    public static PortMapping From(YamlNode node)
    {
        if (node is YamlMappingNode longSyntax)
        {
            return new PortMapping(longSyntax.Scalar("published"), int.Parse(longSyntax.Scalar("target")!, System.Globalization.CultureInfo.InvariantCulture));
        }

        var parts = ((YamlScalarNode)node).Value!.Split('/')[0].Split(':');
        return new PortMapping(parts.Length > 1 ? parts[^2] : null, int.Parse(parts[^1], System.Globalization.CultureInfo.InvariantCulture));
    }
}

/// <summary>A volume or bind mount: a named volume when <see cref="Source"/> is not a path.</summary>
public sealed record VolumeMount(string Source, string Target, bool ReadOnly)
{
    public bool IsNamedVolume => !Source.StartsWith('.') && !Source.StartsWith('/') && !Source.StartsWith('~');

    public static VolumeMount From(YamlNode node)
    {
        if (node is YamlMappingNode longSyntax)
        {
            return new VolumeMount(longSyntax.Scalar("source") ?? "", longSyntax.Scalar("target")!, longSyntax.Scalar("read_only") == "true");
        }

        var parts = ((YamlScalarNode)node).Value!.Split(':');
        return parts.Length == 1
            ? new VolumeMount("", parts[0], false)
            : new VolumeMount(parts[0], parts[1], parts.Length > 2 && parts[2].Split(',').Contains("ro"));
    }
}

internal static class YamlNodes
{
    public static YamlNode? Child(this YamlMappingNode map, string key) =>
        map.Children.FirstOrDefault(entry => entry.Key is YamlScalarNode { Value: var name } && name == key).Value;

    public static string? Scalar(this YamlMappingNode map, string key) => (map.Child(key) as YamlScalarNode)?.Value;
}
