using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;

namespace TicketQueue.Deployment.Tests;

/// <summary>
/// AWS as the AWS CLI sees it, on loopback: the JSON 1.1 protocol (POST, <c>X-Amz-Target</c> names the
/// operation) of the three services deploy.sh calls: ECS, CloudWatch Logs and Application Auto Scaling.
/// It keeps the state a deployment changes (log groups, task definition revisions, services and their
/// primary deployment), records every call in order, and ignores signatures. AWS itself cannot be reached
/// from the test machine; the real CLI talks to this instead (deploy.sh's AWS_ENDPOINT_URL).
/// </summary>
public sealed class LoopbackAws : IDisposable
{
    private const string Ecs = "AmazonEC2ContainerServiceV20141113.";
    private const string Logs = "Logs_20140328.";
    private const string Scaling = "AnyScaleFrontendService.";

    private readonly HttpListener _listener = new();
    private readonly Task _serving;
    private readonly Lock _lock = new();
    private readonly List<AwsCall> _calls = [];
    private readonly Dictionary<string, int> _revisions = [];
    private readonly Dictionary<string, JsonObject> _services = [];

    public LoopbackAws()
    {
        var port = FreePort();
        Endpoint = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Endpoint + "/");
        _listener.Start();
        _serving = Task.Run(Serve);
    }

    public string Endpoint { get; }

    public HashSet<string> LogGroups { get; } = [];

    /// <summary>Services whose next update the deployment circuit breaker rolls back: their primary deployment stays on the old revision.</summary>
    public HashSet<string> RollBackUpdatesOf { get; } = [];

    public IReadOnlyList<AwsCall> Calls
    {
        get
        {
            lock (_lock)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>The calls of one operation, e.g. "CreateService".</summary>
    public IReadOnlyList<JsonObject> CallsOf(string operation) =>
        [.. Calls.Where(call => call.Operation == operation).Select(call => call.Body)];

    /// <summary>Where in <see cref="Calls"/> the first call of an operation that matches comes; -1 when none does.</summary>
    public int IndexOf(string operation, Func<JsonObject, bool> matches) =>
        Calls.Select((call, index) => (call, index)).FirstOrDefault(pair => pair.call.Operation == operation && matches(pair.call.Body), (null!, -1)).index;

    public JsonObject? Service(string name)
    {
        lock (_lock)
        {
            return _services.GetValueOrDefault(name)?.DeepClone().AsObject();
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        _serving.Wait(TimeSpan.FromSeconds(5));
    }

    private async Task Serve()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            var target = context.Request.Headers["X-Amz-Target"] ?? "";
            var body = JsonNode.Parse(await reader.ReadToEndAsync() is { Length: > 0 } text ? text : "{}")!.AsObject();
            var (status, answer) = Answer(target, body);
            var bytes = Encoding.UTF8.GetBytes(answer.ToJsonString());
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/x-amz-json-1.1";
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
        }
    }

    private (int Status, JsonObject Answer) Answer(string target, JsonObject body)
    {
        lock (_lock)
        {
            var operation = target[(target.IndexOf('.', StringComparison.Ordinal) + 1)..];
            _calls.Add(new AwsCall(target, operation, body));
            return target switch
            {
                Logs + "DescribeLogGroups" => (200, new JsonObject
                {
                    ["logGroups"] = new JsonArray([.. LogGroups
                        .Where(group => group.StartsWith((string?)body["logGroupNamePrefix"] ?? "", StringComparison.Ordinal))
                        .Select(group => (JsonNode)new JsonObject { ["logGroupName"] = group })]),
                }),
                Logs + "CreateLogGroup" => LogGroups.Add((string)body["logGroupName"]!)
                    ? (200, new JsonObject())
                    : Error("ResourceAlreadyExistsException", "The specified log group already exists"),
                Logs + "PutRetentionPolicy" => LogGroups.Contains((string)body["logGroupName"]!)
                    ? (200, new JsonObject())
                    : Error("ResourceNotFoundException", "The specified log group does not exist."),
                Ecs + "RegisterTaskDefinition" => Register(body),
                Ecs + "DescribeServices" => Describe(body),
                Ecs + "CreateService" => Create(body),
                Ecs + "UpdateService" => Update(body),
                Scaling + "RegisterScalableTarget" => (200, new JsonObject()),
                Scaling + "PutScalingPolicy" => (200, new JsonObject { ["PolicyARN"] = $"arn:aws:autoscaling:ap-northeast-2:123456789012:scalingPolicy:{body["PolicyName"]}", ["Alarms"] = new JsonArray() }),
                _ => Error("UnknownOperationException", $"{target} is not served here"),
            };
        }
    }

    private (int, JsonObject) Register(JsonObject body)
    {
        var family = (string)body["family"]!;
        var revision = _revisions[family] = _revisions.GetValueOrDefault(family) + 1;
        var definition = body.DeepClone().AsObject();
        definition["taskDefinitionArn"] = $"arn:aws:ecs:ap-northeast-2:123456789012:task-definition/{family}:{revision}";
        definition["revision"] = revision;
        definition["status"] = "ACTIVE";
        return (200, new JsonObject { ["taskDefinition"] = definition });
    }

    private (int, JsonObject) Describe(JsonObject body)
    {
        var found = new JsonArray();
        var failures = new JsonArray();
        foreach (var name in body["services"]!.AsArray().Select(item => (string)item!))
        {
            if (_services.TryGetValue(name, out var service))
            {
                found.Add(service.DeepClone());
            }
            else
            {
                failures.Add(new JsonObject { ["arn"] = $"arn:aws:ecs:ap-northeast-2:123456789012:service/{body["cluster"]}/{name}", ["reason"] = "MISSING" });
            }
        }

        return (200, new JsonObject { ["services"] = found, ["failures"] = failures });
    }

    private (int, JsonObject) Create(JsonObject body)
    {
        var name = (string)body["serviceName"]!;
        if (_services.TryGetValue(name, out var existing) && (string)existing["status"]! == "ACTIVE")
        {
            return Error("InvalidParameterException", "Creation of service was not idempotent.");
        }

        var count = (int?)body["desiredCount"] ?? 1;
        var service = new JsonObject
        {
            ["serviceName"] = name,
            ["serviceArn"] = $"arn:aws:ecs:ap-northeast-2:123456789012:service/{body["cluster"]}/{name}",
            ["status"] = "ACTIVE",
            ["desiredCount"] = count,
            ["runningCount"] = count,
            ["taskDefinition"] = (string)body["taskDefinition"]!,
            ["deployments"] = new JsonArray(Deployment((string)body["taskDefinition"]!, count)),
        };
        _services[name] = service;
        return (200, new JsonObject { ["service"] = service.DeepClone() });
    }

    private (int, JsonObject) Update(JsonObject body)
    {
        var name = (string)body["service"]!;
        if (!_services.TryGetValue(name, out var service))
        {
            return Error("ServiceNotFoundException", "Service not found.");
        }

        var count = (int)service["desiredCount"]!;
        if (body["desiredCount"] is { } desired)
        {
            service["desiredCount"] = service["runningCount"] = count = (int)desired;
        }

        // Rolled back: the circuit breaker gave up on the new revision and the old one is primary again.
        var primary = RollBackUpdatesOf.Contains(name) ? (string)service["taskDefinition"]! : (string)body["taskDefinition"]!;
        service["taskDefinition"] = primary;
        service["deployments"] = new JsonArray(Deployment(primary, count));
        return (200, new JsonObject { ["service"] = service.DeepClone() });
    }

    private static JsonObject Deployment(string taskDefinition, int count) => new()
    {
        ["id"] = $"ecs-svc/{Guid.NewGuid():N}",
        ["status"] = "PRIMARY",
        ["taskDefinition"] = taskDefinition,
        ["desiredCount"] = count,
        ["runningCount"] = count,
        ["rolloutState"] = "COMPLETED",
    };

    private static (int, JsonObject) Error(string type, string message) =>
        (400, new JsonObject { ["__type"] = type, ["message"] = message });

    private static int FreePort()
    {
        using var socket = new TcpListener(IPAddress.Loopback, 0);
        socket.Start();
        return ((IPEndPoint)socket.LocalEndpoint).Port;
    }
}

public sealed record AwsCall(string Target, string Operation, JsonObject Body);
