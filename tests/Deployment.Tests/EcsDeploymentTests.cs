using System.Globalization;
using System.Text.Json.Nodes;

namespace TicketQueue.Deployment.Tests;

/// <summary>
/// deploy/ecs, filled by its own script and checked against the code, images and hosts it deploys. AWS is
/// out of reach here: these are the facts that can be known without it.
/// </summary>
public sealed class EcsDeploymentTests(DeploymentFiles files) : IClassFixture<DeploymentFiles>
{
    // Fargate accepts these memory sizes (MiB) for each CPU size (units of 1/1024 vCPU).
    private static readonly Dictionary<int, int[]> FargateSizes = new()
    {
        [256] = [512, 1024, 2048],
        [512] = [.. Enumerable.Range(1, 4).Select(gb => gb * 1024)],
        [1024] = [.. Enumerable.Range(2, 7).Select(gb => gb * 1024)],
        [2048] = [.. Enumerable.Range(4, 13).Select(gb => gb * 1024)],
        [4096] = [.. Enumerable.Range(8, 23).Select(gb => gb * 1024)],
    };

    private static readonly Regex ProbedPort = new(@"/dev/tcp/[^/\s]+/(\d+)");

    private readonly EcsDeployment _ecs = EcsDeployment.Render();

    [Fact]
    public void Rendering_fills_every_placeholder_and_spreads_lists_into_arrays()
    {
        Assert.Equal(
            EcsDeployment.Templates.Concat(EcsDeployment.Roles.Select(role => $"{role}.service-update.json")).Order(),
            _ecs.Files.Keys.Order());
        Expect.None(_ecs.Files
            .Where(file => file.Value.ToJsonString().Contains("${", StringComparison.Ordinal))
            .Select(file => $"{file.Key} still holds a placeholder: {file.Value.ToJsonString()}"));

        var subnets = _ecs.Service("gateway")["networkConfiguration"]!["awsvpcConfiguration"]!["subnets"]!.AsArray();
        Assert.Equal(["subnet-0a1b2c3d", "subnet-4e5f6a7b"], subnets.Select(subnet => (string)subnet!));
        Assert.Equal("123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/ticketqueue-silo:4a099b7", _ecs.Container("silo").Image);
    }

    [Fact]
    public void An_existing_service_is_updated_with_the_files_settings_but_keeps_its_scaled_count()
    {
        foreach (var role in EcsDeployment.Roles)
        {
            var created = _ecs.Service(role);
            var update = _ecs.Files[$"{role}.service-update.json"];

            Assert.Equal((string)created["serviceName"]!, (string)update["service"]!);
            // UpdateService has no such parameters, and the desired count belongs to the scaling policy.
            foreach (var absent in new[] { "serviceName", "desiredCount", "launchType", "tags" })
            {
                Assert.False(update.ContainsKey(absent), $"{role}: the update sends {absent}");
            }

            foreach (var kept in new[] { "cluster", "networkConfiguration", "deploymentConfiguration" }
                .Concat(created.ContainsKey("loadBalancers") ? ["loadBalancers", "healthCheckGracePeriodSeconds"] : []))
            {
                Assert.True(JsonNode.DeepEquals(created[kept], update[kept]), $"{role}: the update's {kept} differs from the file's");
            }
        }
    }

    [Fact]
    public void Rendering_without_settings_names_every_missing_one_and_fails()
    {
        var run = EcsDeployment.Render(new Dictionary<string, string>());

        Assert.Equal(2, run.ExitCode);
        Assert.Null(run.Deployment);
        Expect.None(EcsDeployment.ValidSettings.Keys
            .Where(name => !run.Errors.Contains($"{name} is not set", StringComparison.Ordinal))
            .Select(name => $"the errors do not name {name}:\n{run.Errors}"));
        // Settings with a default are never reported missing.
        Assert.Contains("VPC_CIDR", EcsDeployment.DefaultedByScript());
        Expect.None(EcsDeployment.DefaultedByScript()
            .Where(name => run.Errors.Contains($"{name} is not set", StringComparison.Ordinal))
            .Select(name => $"{name} has a default in deploy.sh, yet is reported missing"));
    }

    [Theory]
    [InlineData("AWS_ACCOUNT_ID", "12345")]
    [InlineData("AWS_REGION", "Seoul")]
    [InlineData("IMAGE_TAG", "latest tag")]
    [InlineData("VPC_CIDR", "10.0.0.0")]
    [InlineData("PRIVATE_SUBNET_IDS", "subnet-0a1b2c3d;subnet-4e5f6a7b")]
    [InlineData("SILO_SECURITY_GROUP_ID", "silo-group")]
    [InlineData("EXECUTION_ROLE_ARN", "ticketqueue-execution")]
    [InlineData("GATEWAY_TARGET_GROUP_ARN", "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/x/1")]
    [InlineData("PARAMETER_PATH", "ticketqueue")]
    public void Rendering_refuses_a_malformed_setting_by_name(string name, string value)
    {
        var run = EcsDeployment.Render(new Dictionary<string, string>(EcsDeployment.ValidSettings) { [name] = value });

        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"{name} is '{value}'", run.Errors, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_variable_given_to_a_container_is_read_by_its_code()
    {
        Expect.None(
            EcsDeployment.Roles.Select(_ecs.Container).SelectMany(container => container.VariableNames
                .Where(variable => !files.Configuration.Reads(ProjectOf(container), variable))
                .Select(variable => $"{container}: {variable}")),
            "No code reads these variables:");
    }

    [Fact]
    public void Secrets_come_from_Parameter_Store_and_never_as_plain_values()
    {
        var problems = new List<string>();
        foreach (var container in EcsDeployment.Roles.Select(_ecs.Container))
        {
            var project = ProjectOf(container);
            var secretKeys = AppSettings.Of(project).Values
                .Where(setting => setting.Value?.Contains(DeploymentFiles.DevelopmentMarker, StringComparison.Ordinal) == true)
                .Select(setting => setting.Key.Replace(":", "__", StringComparison.Ordinal))
                .ToList();
            // The database password travels in the silo's connection string.
            if (project.Name == "Silo")
            {
                secretKeys.Add("ConnectionStrings__Postgres");
            }

            foreach (var key in secretKeys)
            {
                if (DeploymentFiles.Variable(container.Environment, key) is not null)
                {
                    problems.Add($"{container}: {key} is a plain environment value");
                }

                if (DeploymentFiles.Variable(container.Secrets, key) is not { } source
                    || !Regex.IsMatch(source, @"^arn:aws:ssm:ap-northeast-2:123456789012:parameter/ticketqueue/[a-z-]+$"))
                {
                    problems.Add($"{container}: {key} does not come from a Parameter Store parameter under /ticketqueue");
                }
            }

            if (project.IsWeb && DeploymentFiles.Variable(container.Environment, "ASPNETCORE_ENVIRONMENT") != "Production")
            {
                problems.Add($"{container} does not run in Production, so it would accept the development secrets");
            }
        }

        Expect.None(problems);
    }

    [Fact]
    public void The_gateway_listens_where_the_load_balancer_and_its_health_check_send_requests()
    {
        var gateway = _ecs.Container("gateway");
        var port = Assert.Single(gateway.ContainerPorts);
        var balancer = Assert.Single(_ecs.Service("gateway")["loadBalancers"]!.AsArray())!;

        Assert.Equal($"http://+:{port}", DeploymentFiles.Variable(gateway.Environment, "Urls"));
        Assert.Equal(port, (int)balancer["containerPort"]!);
        Assert.Equal(gateway.Name, (string)balancer["containerName"]!);
        Assert.Contains(port, DockerfileOf(gateway).ExposedPorts);
        Assert.Contains($"/dev/tcp/127.0.0.1/{port}", gateway.HealthCheckCommand, StringComparison.Ordinal);
        Assert.Contains("GET /health/ready ", gateway.HealthCheckCommand, StringComparison.Ordinal);
        Assert.Contains("MapHealthChecks(\"/health/ready\"", Repository.Read("src/Gateway/Hosting/GatewayHosting.cs"), StringComparison.Ordinal);
    }

    [Fact]
    public void The_silo_publishes_both_Orleans_ports_and_probes_the_one_clients_use()
    {
        var silo = _ecs.Container("silo");
        var siloPort = int.Parse(Setting(silo, "Orleans:SiloPort") ?? "11111", CultureInfo.InvariantCulture);
        var gatewayPort = int.Parse(Setting(silo, "Orleans:GatewayPort") ?? "30000", CultureInfo.InvariantCulture);

        Assert.Equal([siloPort, gatewayPort], silo.ContainerPorts.Order());
        Assert.Subset(DockerfileOf(silo).ExposedPorts.ToHashSet(), new HashSet<int> { siloPort, gatewayPort });
        Assert.Equal(gatewayPort.ToString(CultureInfo.InvariantCulture), ProbedPort.Match(silo.HealthCheckCommand).Groups[1].Value);
        // awsvpc gives every task its own address; a fixed advertised address would be wrong for all but one.
        Assert.Null(Setting(silo, "Orleans:AdvertisedIP"));
    }

    [Fact]
    public void Tasks_outlast_the_hosts_graceful_shutdown_within_Fargates_limit()
    {
        (string Role, string Host)[] hosts = [("silo", "src/Silo/Program.cs"), ("gateway", "src/Gateway/Hosting/GatewayHosting.cs")];
        foreach (var (role, host) in hosts)
        {
            var shutdown = Regex.Match(Repository.Read(host), @"ShutdownTimeout = TimeSpan\.FromSeconds\((\d+)\)");
            Assert.True(shutdown.Success, $"{host} sets no ShutdownTimeout");
            var seconds = int.Parse(shutdown.Groups[1].Value, CultureInfo.InvariantCulture);

            var stopTimeout = _ecs.Container(role).StopTimeout;
            Assert.True(stopTimeout > seconds, $"{role}: ECS kills the task after {stopTimeout?.ToString(CultureInfo.InvariantCulture) ?? "30 (the default)"} s, not after the host's {seconds} s shutdown");
            Assert.True(stopTimeout <= 120, $"{role}: Fargate allows a stopTimeout of at most 120 s, not {stopTimeout}");
        }
    }

    [Fact]
    public void Silos_and_gateways_join_one_cluster_through_the_same_Redis()
    {
        var silo = _ecs.Container("silo");
        var gateway = _ecs.Container("gateway");

        foreach (var container in new[] { silo, gateway })
        {
            Assert.Equal("Cluster", DeploymentFiles.Variable(container.Environment, "TicketQueue__Mode"));
        }

        foreach (var key in new[] { "Orleans:ClusterId", "Orleans:ServiceId", "ConnectionStrings:Redis" })
        {
            Assert.NotNull(Setting(silo, key));
            Assert.Equal(Setting(silo, key), Setting(gateway, key));
        }

        Assert.Equal(EcsDeployment.ValidSettings["REDIS_CONFIGURATION"], Setting(silo, "ConnectionStrings:Redis"));
        Assert.Equal(EcsDeployment.ValidSettings["KAFKA_BOOTSTRAP_SERVERS"], Setting(silo, "TicketQueue:Events:Kafka:BootstrapServers"));
        // The load balancer's network is trusted for X-Forwarded-For, so the sign-in limit counts clients.
        Assert.Equal("10.0.0.0/16", Setting(gateway, "TicketQueue:Proxies:KnownNetworks:0"));
    }

    [Fact]
    public void Tasks_fit_Fargate_and_log_to_CloudWatch_in_their_region()
    {
        foreach (var role in EcsDeployment.Roles)
        {
            var task = _ecs.Task(role);
            Assert.Equal(["FARGATE"], task["requiresCompatibilities"]!.AsArray().Select(item => (string)item!));
            Assert.Equal("awsvpc", (string)task["networkMode"]!);

            var cpu = int.Parse((string)task["cpu"]!, CultureInfo.InvariantCulture);
            var memory = int.Parse((string)task["memory"]!, CultureInfo.InvariantCulture);
            Assert.True(FargateSizes.TryGetValue(cpu, out var memories) && memories.Contains(memory), $"{role}: Fargate has no task of {cpu} CPU units and {memory} MiB");

            var logs = _ecs.Container(role).LogConfiguration;
            Assert.NotNull(logs);
            Assert.Equal("awslogs", (string)logs["logDriver"]!);
            Assert.Equal("ap-northeast-2", (string)logs["options"]!["awslogs-region"]!);
            Assert.Equal($"/ecs/ticketqueue/{role}", (string)logs["options"]!["awslogs-group"]!);
        }

        // deploy.sh makes the log groups the tasks write to.
        Assert.Contains("group=\"/ecs/ticketqueue/$role\"", Repository.Read($"{EcsDeployment.Folder}/deploy.sh"), StringComparison.Ordinal);
    }

    [Fact]
    public void Services_run_the_tasks_defined_here_roll_safely_and_scale()
    {
        var scaling = JsonNode.Parse(Repository.Read($"{EcsDeployment.Folder}/scaling.json"))!.AsObject();
        var names = new List<string>();
        foreach (var role in EcsDeployment.Roles)
        {
            var service = _ecs.Service(role);
            var name = (string)service["serviceName"]!;
            names.Add(name);

            Assert.Equal((string)_ecs.Task(role)["family"]!, (string)service["taskDefinition"]!);
            Assert.Equal("FARGATE", (string)service["launchType"]!);
            Assert.Equal("DISABLED", (string)service["networkConfiguration"]!["awsvpcConfiguration"]!["assignPublicIp"]!);

            var deployment = service["deploymentConfiguration"]!;
            Assert.Equal(100, (int)deployment["minimumHealthyPercent"]!);
            Assert.True((bool)deployment["deploymentCircuitBreaker"]!["rollback"]!, $"{name}: a failed deployment is not rolled back");

            // One task's death must not take the service away: at least two at all times.
            var bounds = scaling[name] ?? throw new Xunit.Sdk.XunitException($"scaling.json has no entry for {name}");
            Assert.True((int)bounds["min"]! >= 2 && (int)bounds["min"]! <= (int)bounds["max"]!, $"{name}: scaling bounds {bounds.ToJsonString()}");
            Assert.InRange((int)service["desiredCount"]!, (int)bounds["min"]!, (int)bounds["max"]!);
            Assert.InRange((int)bounds["targetCpuPercent"]!, 10, 90);
        }

        Assert.Equal(names.Order(), scaling.Select(entry => entry.Key).Order());
    }

    [Fact]
    public void Continuous_integration_runs_the_README_test_command()
    {
        var ci = Workflow.Load("ci.yml");

        Assert.Contains("bash .ci/run", Workflow.Scripts(ci, "test").Split('\n'));
        Assert.Contains("bash scripts/test.sh", Repository.Read(".ci/run"), StringComparison.Ordinal);
        Assert.Contains("bash scripts/test.sh", Repository.Read("README.md"), StringComparison.Ordinal);
        Assert.InRange(int.Parse((string)ci["jobs"]!["test"]!["timeout-minutes"]!, CultureInfo.InvariantCulture), 30, 90);
        // The deploy workflow reuses this one for main.
        Assert.True(ci["on"]!.AsObject().ContainsKey("workflow_call"), "ci.yml cannot be called by the deploy workflow");
    }

    [Fact]
    public void The_deploy_workflow_tests_first_builds_every_image_the_tasks_run_and_sets_every_setting()
    {
        var deploy = Workflow.Load("deploy.yml");
        var job = deploy["jobs"]!["deploy"]!;

        Assert.Equal("test", (string)job["needs"]!);
        Assert.Equal("./.github/workflows/ci.yml", (string)deploy["jobs"]!["test"]!["uses"]!);

        var scripts = Workflow.Scripts(deploy, "deploy");
        Assert.Contains("bash deploy/ecs/deploy.sh deploy", scripts, StringComparison.Ordinal);
        Assert.True(
            scripts.IndexOf("deploy.sh render", StringComparison.Ordinal) is >= 0 and var render
                && render < scripts.IndexOf("docker build", StringComparison.Ordinal),
            "the settings are not checked before the images are built");

        foreach (var container in EcsDeployment.Roles.Select(_ecs.Container))
        {
            Assert.Contains($"docker build -f {DockerfilePathOf(container)} -t \"$IMAGE_REGISTRY/{container.ImageRepository}:$IMAGE_TAG\" .", scripts, StringComparison.Ordinal);
            Assert.Contains($"docker push \"$IMAGE_REGISTRY/{container.ImageRepository}:$IMAGE_TAG\"", scripts, StringComparison.Ordinal);
        }

        var given = job["env"]!.AsObject().Select(variable => variable.Key)
            .Concat(Workflow.Steps(deploy, "deploy").SelectMany(step => step["env"]?.AsObject().Select(variable => variable.Key) ?? []))
            .ToHashSet();
        Expect.None(EcsDeployment.Placeholders()
            .Where(name => !given.Contains(name) && !EcsDeployment.DefaultedByScript().Contains(name) && !EcsDeployment.DerivedByScript().Contains(name))
            .Select(name => $"the deploy job does not set {name}"));
    }

    private static DotnetProject ProjectOf(EcsContainer container) =>
        DotnetProject.InFolder(Path.GetDirectoryName(DockerfilePathOf(container))!);

    private static Dockerfile DockerfileOf(EcsContainer container) => Dockerfile.Load(DockerfilePathOf(container));

    /// <summary>The Dockerfile the deploy workflow builds a container's image from.</summary>
    private static string DockerfilePathOf(EcsContainer container)
    {
        var build = Regex.Match(
            Workflow.Scripts(Workflow.Load("deploy.yml"), "deploy"),
            $@"docker build -f (\S+) -t ""\$IMAGE_REGISTRY/{Regex.Escape(container.ImageRepository)}:");
        Assert.True(build.Success, $"the deploy workflow builds no image {container.ImageRepository} for {container}");
        Assert.True(Repository.FileExists(build.Groups[1].Value), $"{build.Groups[1].Value} is not in the repository");
        return build.Groups[1].Value;
    }

    /// <summary>A setting as the container's process sees it: its task environment first, then its appsettings.json.</summary>
    private static string? Setting(EcsContainer container, string key) =>
        DeploymentFiles.Setting(container.Environment, ProjectOf(container), key);
}
