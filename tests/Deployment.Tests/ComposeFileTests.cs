using System.Buffers.Text;

namespace TicketQueue.Deployment.Tests;

/// <summary>docker-compose.yml, checked against the code it runs: no Docker engine needed.</summary>
public sealed class ComposeFileTests(DeploymentFiles files) : IClassFixture<DeploymentFiles>
{
    private static readonly Regex RequiredVariable = new(@"^\$\{\w+:?\?[^}]*\}$");

    private static readonly Regex ProbedPort = new(@"(?:/dev/tcp/[^/\s]+/|https?://[^/:\s]+:)(\d+)");

    private static readonly Regex ListenUrl = new(@"^https?://(?<host>\[[^\]]*\]|[^:/]+)(?::(?<port>\d+))?");

    private ComposeFile Compose => files.Compose;

    [Fact]
    public void The_compose_file_defines_every_service()
    {
        string[] expected = ["postgres", "redis", "kafka", "silo1", "silo2", "gateway"];

        Expect.None(expected.Where(name => !Compose.Services.ContainsKey(name)).Select(name => $"no service '{name}' in {ComposeFile.FileName}"));
    }

    [Fact]
    public void The_infrastructure_runs_pinned_images()
    {
        Assert.Equal("postgres:18", Compose["postgres"].Image);
        Assert.Equal("redis:7", Compose["redis"].Image);
        Assert.Matches(@"^apache/kafka:\d+\.\d+\.\d+$", Compose["kafka"].Image);
    }

    [Fact]
    public void Kafka_runs_in_KRaft_mode_without_ZooKeeper()
    {
        var kafka = Compose["kafka"];
        var settings = kafka.Environment;

        var roles = settings["KAFKA_PROCESS_ROLES"].Split(',', StringSplitOptions.TrimEntries);
        Assert.Contains("controller", roles);
        Assert.Contains("broker", roles);

        // One node votes for itself, at its own controller listener.
        var voter = Regex.Match(settings["KAFKA_CONTROLLER_QUORUM_VOTERS"], @"^(?<id>\d+)@(?<host>[^:]+):(?<port>\d+)$");
        Assert.True(voter.Success, $"KAFKA_CONTROLLER_QUORUM_VOTERS is '{settings["KAFKA_CONTROLLER_QUORUM_VOTERS"]}', not one id@host:port");
        Assert.Equal(settings["KAFKA_NODE_ID"], voter.Groups["id"].Value);
        Assert.Equal(kafka.Name, voter.Groups["host"].Value);
        Assert.Matches($@"(^|,){Regex.Escape(settings["KAFKA_CONTROLLER_LISTENER_NAMES"])}://[^,:]*:{voter.Groups["port"].Value}(,|$)", settings["KAFKA_LISTENERS"]);

        // The data volume is formatted with the cluster id, which must be a base64url-encoded UUID.
        Assert.Equal(16, Base64Url.DecodeFromChars(settings["CLUSTER_ID"]).Length);

        Expect.None(Compose.Services.Values
            .Where(service => service.Name.Contains("zookeeper", StringComparison.OrdinalIgnoreCase)
                || service.Image?.Contains("zookeeper", StringComparison.OrdinalIgnoreCase) == true)
            .Select(service => $"{service} runs ZooKeeper"));
        Expect.None(Compose.Services.Values
            .SelectMany(service => service.Environment
                .Where(variable => $"{variable.Key}={variable.Value}".Contains("zookeeper", StringComparison.OrdinalIgnoreCase))
                .Select(variable => $"{service}: {variable.Key} names ZooKeeper")));
    }

    [Fact]
    public void Every_service_has_a_healthcheck()
    {
        Expect.None(Compose.Services.Values.Where(service => service.HealthcheckCommand is null).Select(service => $"{service} has no healthcheck"));
    }

    [Fact]
    public void Services_wait_for_the_healthy_services_they_connect_to()
    {
        var problems = new List<string>();
        foreach (var service in Compose.Services.Values)
        {
            foreach (var (dependency, condition) in service.DependsOn)
            {
                if (condition != "service_healthy")
                {
                    problems.Add($"{service} waits for {dependency} only until {condition}, not service_healthy");
                }

                if (!Compose.Services.TryGetValue(dependency, out var target))
                {
                    problems.Add($"{service} depends on {dependency}, which is not a service");
                }
                else if (target.HealthcheckCommand is null)
                {
                    problems.Add($"{service} waits for {dependency} to be healthy, but {dependency} has no healthcheck");
                }
            }

            foreach (var host in ConnectionStringHosts(service).Where(Compose.Services.ContainsKey).Distinct())
            {
                if (!service.DependsOn.ContainsKey(host))
                {
                    problems.Add($"{service} connects to {host} but does not wait for it");
                }
            }
        }

        Expect.None(problems);
    }

    [Fact]
    public void The_silos_and_the_gateway_build_from_Dockerfiles_in_the_repository()
    {
        (string Service, string Project)[] expected = [("silo1", "Silo"), ("silo2", "Silo"), ("gateway", "Gateway")];
        foreach (var (name, projectName) in expected)
        {
            var service = Compose[name];

            // The Dockerfiles copy Directory.Build.props and src/ from the repository root.
            Assert.True(
                service.BuildContext is { } context && Repository.PathOf(context).TrimEnd('/') == Repository.Root.TrimEnd('/'),
                $"{service} builds in '{service.BuildContext}', not the repository root");
            Assert.True(Repository.FileExists(service.Dockerfile!), $"{service} builds from {service.Dockerfile}, which is not in the repository");
            Assert.Equal(projectName, DeploymentFiles.ProjectOf(service).Name);
        }
    }

    [Fact]
    public void TicketQueue_processes_are_started_again_when_they_stop_by_themselves()
    {
        // A silo stops itself when Redis lost the membership table (MembershipWatchdog): only a fresh start
        // brings the cluster back.
        Assert.NotEmpty(files.BuiltServices);
        Expect.None(files.BuiltServices
            .Where(service => service.Restart is not ("unless-stopped" or "always" or "on-failure"))
            .Select(service => $"{service} has restart policy '{service.Restart ?? "no"}'"));
    }

    [Fact]
    public void Postgres_runs_init_db_sql_from_the_repository()
    {
        var script = Assert.Single(Compose["postgres"].Volumes, mount => mount.Target.StartsWith("/docker-entrypoint-initdb.d/", StringComparison.Ordinal));

        Assert.Equal("./init-db.sql", script.Source);
        Assert.EndsWith(".sql", script.Target, StringComparison.Ordinal);
        Assert.True(script.ReadOnly, "the init script is mounted writable");
        Assert.True(Repository.FileExists(script.Source), $"{script.Source} is mounted into postgres but is not in the repository");
    }

    [Fact]
    public void Postgres_18_keeps_its_data_in_a_named_volume()
    {
        // PostgreSQL 18 images keep their data in /var/lib/postgresql/18/docker and stop with an error
        // when a volume is mounted at the /var/lib/postgresql/data of older versions.
        var data = Assert.Single(Compose["postgres"].Volumes, mount => mount.IsNamedVolume);

        Assert.Equal("/var/lib/postgresql", data.Target);
    }

    [Fact]
    public void Every_named_volume_is_declared()
    {
        Expect.None(Compose.Services.Values
            .SelectMany(service => service.Volumes.Where(mount => mount.IsNamedVolume && !Compose.DeclaredVolumes.Contains(mount.Source))
                .Select(mount => $"{service} mounts volume '{mount.Source}', which the top-level volumes do not declare")));
    }

    [Fact]
    public void Every_variable_given_to_a_TicketQueue_service_is_read_by_its_code()
    {
        Assert.NotEmpty(files.BuiltServices);

        Expect.None(
            files.BuiltServices.SelectMany(service => service.Environment.Keys
                .Where(variable => !files.Configuration.Reads(DeploymentFiles.ProjectOf(service), variable))
                .Select(variable => $"{service}: {variable} ({variable.Replace("__", ":", StringComparison.Ordinal)})")),
            "No code reads these variables: they are not ASP.NET Core or DOTNET_ variables, not in the service's appsettings.json, "
                + "not connection strings the code asks for, and no string literal of src/ names them or a section bound to options:");
    }

    [Fact]
    public void The_silos_sign_in_to_postgres_with_the_account_it_creates()
    {
        var postgres = Compose["postgres"].Environment;
        Assert.NotEmpty(files.Silos);

        foreach (var silo in files.Silos)
        {
            var connection = ConnectionStringPairs(DeploymentFiles.Setting(silo, "ConnectionStrings:Postgres") ?? "");

            Assert.Equal("postgres", Pair(connection, "Host", "Server"));
            Assert.Equal("5432", Pair(connection, "Port") ?? "5432");
            Assert.Equal(postgres["POSTGRES_DB"], Pair(connection, "Database", "DB"));
            Assert.Equal(postgres["POSTGRES_USER"], Pair(connection, "Username", "User ID", "User Name", "User"));
            Assert.Equal(postgres["POSTGRES_PASSWORD"], Pair(connection, "Password", "PWD"));
        }
    }

    [Fact]
    public void Development_only_secrets_are_replaced_by_required_variables()
    {
        var secrets = files.BuiltServices
            .SelectMany(service => AppSettings.Of(DeploymentFiles.ProjectOf(service)).Values
                .Where(setting => setting.Value?.Contains(DeploymentFiles.DevelopmentMarker, StringComparison.Ordinal) == true)
                .Select(setting => (Service: service, Key: setting.Key)))
            .ToList();
        Assert.NotEmpty(secrets); // appsettings.json still marks its development defaults this way

        Expect.None(secrets
            .Where(secret => DeploymentFiles.Variable(secret.Service.Environment, secret.Key.Replace(":", "__", StringComparison.Ordinal)) is not { } value
                || !RequiredVariable.IsMatch(value))
            .Select(secret => $"{secret.Service}: {secret.Key} keeps its development default; set it to a required variable, ${{NAME:?message}}"));
        Expect.None(files.BuiltServices
            .Where(service => DeploymentFiles.ProjectOf(service).IsWeb
                && string.Equals(DeploymentFiles.Variable(service.Environment, "ASPNETCORE_ENVIRONMENT"), "Development", StringComparison.OrdinalIgnoreCase))
            .Select(service => $"{service} runs in Development, which accepts the development secrets"));
    }

    [Fact]
    public void The_gateway_listens_on_every_interface_at_the_port_it_publishes()
    {
        var gateway = Compose["gateway"];
        var published = Assert.Single(gateway.Ports);
        var urls = ListeningUrls(gateway);

        var listens = urls.Split(';').Select(url => ListenUrl.Match(url.Trim())).Any(url =>
            url.Success
            && url.Groups["host"].Value is "+" or "*" or "0.0.0.0" or "[::]"
            && url.Groups["port"].Value == published.Target.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(listens, $"gateway publishes container port {published.Target} but listens on {urls}");
        Assert.Equal(published.Target, ProbedPortOf(gateway));
        Assert.Contains(published.Target, DeploymentFiles.DockerfileOf(gateway).ExposedPorts);
    }

    [Fact]
    public void The_silo_healthcheck_probes_the_gateway_port_the_image_exposes()
    {
        Assert.NotEmpty(files.Silos);

        foreach (var silo in files.Silos)
        {
            // SiloConfiguration's defaults apply when neither compose nor appsettings.json sets a port.
            var siloPort = int.Parse(DeploymentFiles.Setting(silo, "Orleans:SiloPort") ?? "11111", System.Globalization.CultureInfo.InvariantCulture);
            var gatewayPort = int.Parse(DeploymentFiles.Setting(silo, "Orleans:GatewayPort") ?? "30000", System.Globalization.CultureInfo.InvariantCulture);
            var exposed = DeploymentFiles.DockerfileOf(silo).ExposedPorts;

            Assert.Equal(gatewayPort, ProbedPortOf(silo));
            Assert.Contains(gatewayPort, exposed);
            Assert.Contains(siloPort, exposed);
        }
    }

    /// <summary>
    /// The addresses ASP.NET Core listens on, from the strongest source down: a plain Urls variable (compose's,
    /// then the image's), appsettings.json, ASPNETCORE_URLS, and last ASPNETCORE_HTTP_PORTS (8080 in the aspnet image).
    /// appsettings.json outranks ASPNETCORE_URLS because the prefixed variables are read before the file.
    /// </summary>
    private static string ListeningUrls(ComposeService service)
    {
        var compose = service.Environment;
        var image = DeploymentFiles.DockerfileOf(service).Environment;
        var ports = DeploymentFiles.Variable(compose, "ASPNETCORE_HTTP_PORTS") ?? DeploymentFiles.Variable(image, "ASPNETCORE_HTTP_PORTS") ?? "8080";
        return DeploymentFiles.Variable(compose, "Urls")
            ?? DeploymentFiles.Variable(image, "Urls")
            ?? AppSettings.Of(DeploymentFiles.ProjectOf(service))["Urls"]
            ?? DeploymentFiles.Variable(compose, "ASPNETCORE_URLS")
            ?? DeploymentFiles.Variable(image, "ASPNETCORE_URLS")
            ?? string.Join(';', ports.Split(';').Select(port => $"http://+:{port}"));
    }

    private static int ProbedPortOf(ComposeService service)
    {
        var probe = ProbedPort.Match(service.HealthcheckCommand ?? "");
        Assert.True(probe.Success, $"{service}'s healthcheck names no port: {service.HealthcheckCommand}");
        return int.Parse(probe.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The host of each connection string: Npgsql's "Host=postgres;..." or StackExchange.Redis's "redis:6379,...".</summary>
    private static IEnumerable<string> ConnectionStringHosts(ComposeService service) =>
        service.Environment
            .Where(variable => variable.Key.StartsWith("ConnectionStrings__", StringComparison.OrdinalIgnoreCase))
            .Select(variable => Pair(ConnectionStringPairs(variable.Value), "Host", "Server") ?? variable.Value.Split(',')[0])
            .Select(address => address.Split(':')[0]);

    private static Dictionary<string, string> ConnectionStringPairs(string connectionString) =>
        connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(part => part.Split('=', 2))
            .Where(pair => pair.Length == 2)
            .ToDictionary(pair => pair[0].Trim(), pair => pair[1].Trim(), StringComparer.OrdinalIgnoreCase);

    private static string? Pair(Dictionary<string, string> pairs, params string[] names) =>
        names.Select(name => pairs.GetValueOrDefault(name)).FirstOrDefault(value => value is not null);
}
