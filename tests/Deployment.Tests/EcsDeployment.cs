using System.Diagnostics;
using System.Text.Json.Nodes;

namespace TicketQueue.Deployment.Tests;

/// <summary>
/// deploy/ecs as <c>deploy.sh render</c> fills it: the task definitions and services AWS would be given.
/// Rendering runs the real script (bash and python3, no AWS call) with the settings a test chooses.
/// </summary>
public sealed class EcsDeployment
{
    public const string Folder = "deploy/ecs";

    public static readonly string[] Roles = ["silo", "gateway"];

    /// <summary>A complete, well-formed set of settings, as the deploy workflow would pass them.</summary>
    public static IReadOnlyDictionary<string, string> ValidSettings { get; } = new Dictionary<string, string>
    {
        ["AWS_ACCOUNT_ID"] = "123456789012",
        ["IMAGE_TAG"] = "4a099b7",
        ["EXECUTION_ROLE_ARN"] = "arn:aws:iam::123456789012:role/ticketqueue-execution",
        ["TASK_ROLE_ARN"] = "arn:aws:iam::123456789012:role/ticketqueue-task",
        ["REDIS_CONFIGURATION"] = "master.ticketqueue.abc123.apn2.cache.amazonaws.com:6379,ssl=true",
        ["KAFKA_BOOTSTRAP_SERVERS"] = "10.0.10.20:9092,10.0.20.20:9092",
        ["PRIVATE_SUBNET_IDS"] = "subnet-0a1b2c3d,subnet-4e5f6a7b",
        ["SILO_SECURITY_GROUP_ID"] = "sg-0123456789abcdef0",
        ["GATEWAY_SECURITY_GROUP_ID"] = "sg-0fedcba9876543210",
        ["GATEWAY_TARGET_GROUP_ARN"] = "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/ticketqueue-gateway/0123456789abcdef",
    };

    private EcsDeployment(IReadOnlyDictionary<string, JsonObject> files) => Files = files;

    /// <summary>The rendered files by name (silo.task.json, gateway.service.json, ...).</summary>
    public IReadOnlyDictionary<string, JsonObject> Files { get; }

    public JsonObject Task(string role) => Files[$"{role}.task.json"];

    public JsonObject Service(string role) => Files[$"{role}.service.json"];

    /// <summary>The one container of a role's task.</summary>
    public EcsContainer Container(string role) =>
        new(Assert.Single(Task(role)["containerDefinitions"]!.AsArray())!.AsObject());

    public static EcsDeployment Render() => Render(ValidSettings) is { Deployment: { } deployment } ? deployment
        : throw new InvalidOperationException("deploy.sh render refused the valid settings.");

    /// <summary>Runs <c>deploy.sh render</c> with exactly these settings (none inherited from the test's environment).</summary>
    public static RenderRun Render(IReadOnlyDictionary<string, string> settings)
    {
        var output = Directory.CreateTempSubdirectory("tq-ecs-");
        try
        {
            var run = Run(["render", output.FullName], settings, new Dictionary<string, string>());
            var files = run.ExitCode == 0
                ? output.GetFiles("*.json").ToDictionary(file => file.Name, file => JsonNode.Parse(File.ReadAllText(file.FullName))!.AsObject())
                : null;
            return new RenderRun(run.ExitCode, run.Errors, files is null ? null : new EcsDeployment(files));
        }
        finally
        {
            output.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Runs <c>deploy.sh deploy</c> with Debian's AWS CLI (<c>/usr/bin/aws</c>, package awscli) against the
    /// loopback stand-in, with throwaway credentials, no AWS configuration of the machine's, and its own
    /// temporary folder (returned, so a test can see what the script left behind).
    /// </summary>
    public static DeployRun Deploy(IReadOnlyDictionary<string, string> settings, LoopbackAws aws)
    {
        Assert.True(File.Exists("/usr/bin/aws"), "the AWS CLI is missing: scripts/test.sh installs Debian's awscli");
        var home = Directory.CreateTempSubdirectory("tq-aws-home-");
        var temp = home.CreateSubdirectory("tmp");
        var run = Run(["deploy"], settings, new Dictionary<string, string>
        {
            // Debian's CLI first: the machine may have another one earlier on its PATH.
            ["PATH"] = "/usr/bin:/bin",
            ["HOME"] = home.FullName,
            ["TMPDIR"] = temp.FullName,
            ["AWS_ENDPOINT_URL"] = aws.Endpoint,
            ["AWS_ACCESS_KEY_ID"] = "AKIDLOOPBACKTEST",
            ["AWS_SECRET_ACCESS_KEY"] = "loopback-secret",
            ["AWS_DEFAULT_REGION"] = "ap-northeast-2",
            ["AWS_CONFIG_FILE"] = Path.Combine(home.FullName, "config"),
            ["AWS_SHARED_CREDENTIALS_FILE"] = Path.Combine(home.FullName, "credentials"),
            ["AWS_EC2_METADATA_DISABLED"] = "true",
            ["AWS_PAGER"] = "",
        });
        return new DeployRun(run.ExitCode, run.Output, run.Errors, temp);
    }

    private static (int ExitCode, string Output, string Errors) Run(string[] arguments, IReadOnlyDictionary<string, string> settings, IReadOnlyDictionary<string, string> machine)
    {
        var start = new ProcessStartInfo("bash", [Repository.PathOf($"{Folder}/deploy.sh"), .. arguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        // Nothing the script reads may leak in from the test's own environment.
        foreach (var name in Placeholders().Concat(DefaultedByScript()).Concat(DerivedByScript()).Append("AWS_ENDPOINT_URL"))
        {
            start.Environment.Remove(name);
        }

        foreach (var (name, value) in machine.Concat(settings))
        {
            start.Environment[name] = value;
        }

        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"deploy.sh {string.Join(' ', arguments)} ran for 3 minutes:\n{output}");
        }

        return (process.ExitCode, output, errors.Result);
    }

    /// <summary>The templates in deploy/ecs that the script renders.</summary>
    public static IEnumerable<string> Templates =>
        Roles.SelectMany(role => new[] { $"{role}.task.json", $"{role}.service.json" });

    /// <summary>Every ${NAME} the templates use.</summary>
    public static IReadOnlySet<string> Placeholders() =>
        Templates.SelectMany(template => Regex.Matches(Repository.Read($"{Folder}/{template}"), @"\$\{([A-Z][A-Z0-9_]*)\}").Select(m => m.Groups[1].Value))
            .ToHashSet();

    /// <summary>The settings deploy.sh gives a default when they are not set: export NAME="${NAME:-default}".</summary>
    public static IReadOnlySet<string> DefaultedByScript() =>
        Regex.Matches(Repository.Read($"{Folder}/deploy.sh"), @"^\s*(?:export\s+)?([A-Z][A-Z0-9_]*)=""?\$\{\1:-", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value)
            .ToHashSet();

    /// <summary>The settings deploy.sh works out from others when they are not set: if [ -z "${NAME:-}" ] ...</summary>
    public static IReadOnlySet<string> DerivedByScript() =>
        Regex.Matches(Repository.Read($"{Folder}/deploy.sh"), @"^\s*if \[ -z ""\$\{([A-Z][A-Z0-9_]*):-\}"" \]", RegexOptions.Multiline)
            .Select(m => m.Groups[1].Value)
            .ToHashSet();
}

public sealed record RenderRun(int ExitCode, string Errors, EcsDeployment? Deployment);

public sealed record DeployRun(int ExitCode, string Output, string Errors, DirectoryInfo TemporaryFolder);

/// <summary>One container definition of a rendered task.</summary>
public sealed class EcsContainer(JsonObject definition)
{
    public string Name => (string)definition["name"]!;

    public string Image => (string)definition["image"]!;

    /// <summary>The repository part of the image: ticketqueue-silo in registry/ticketqueue-silo:tag.</summary>
    public string ImageRepository => Image.Split('/')[^1].Split(':')[0];

    public IReadOnlyDictionary<string, string> Environment =>
        Pairs("environment", "value");

    /// <summary>Variables ECS fills from Parameter Store or Secrets Manager: name to valueFrom.</summary>
    public IReadOnlyDictionary<string, string> Secrets =>
        Pairs("secrets", "valueFrom");

    public IReadOnlyList<int> ContainerPorts =>
        [.. (definition["portMappings"]?.AsArray() ?? []).Select(mapping => (int)mapping!["containerPort"]!)];

    public string HealthCheckCommand =>
        string.Join(' ', definition["healthCheck"]!["command"]!.AsArray().Skip(1).Select(part => (string)part!));

    public int? StopTimeout => (int?)definition["stopTimeout"];

    public JsonObject? LogConfiguration => definition["logConfiguration"]?.AsObject();

    /// <summary>Every variable the process gets from the task: plain ones and secrets.</summary>
    public IEnumerable<string> VariableNames => Environment.Keys.Concat(Secrets.Keys);

    public override string ToString() => $"container '{Name}'";

    private Dictionary<string, string> Pairs(string list, string valueName) =>
        (definition[list]?.AsArray() ?? []).ToDictionary(pair => (string)pair!["name"]!, pair => (string)pair![valueName]!);
}

/// <summary>A GitHub Actions workflow under .github/workflows, as plain JSON nodes.</summary>
public static class Workflow
{
    public static JsonObject Load(string fileName)
    {
        var yaml = new YamlDotNet.Serialization.DeserializerBuilder().Build()
            .Deserialize<object>(Repository.Read($".github/workflows/{fileName}"));
        // YAML to JSON through the serializer: scalars stay strings, which is all these checks need.
        var json = new YamlDotNet.Serialization.SerializerBuilder().JsonCompatible().Build().Serialize(yaml);
        return JsonNode.Parse(json)!.AsObject();
    }

    public static IEnumerable<JsonObject> Steps(JsonObject workflow, string job) =>
        workflow["jobs"]![job]!["steps"]!.AsArray().Select(step => step!.AsObject());

    /// <summary>The shell text of a job's run steps, one after the other.</summary>
    public static string Scripts(JsonObject workflow, string job) =>
        string.Join('\n', Steps(workflow, job).Select(step => (string?)step["run"]).Where(run => run is not null));
}
