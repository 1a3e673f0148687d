namespace TicketQueue.Deployment.Tests;

/// <summary>The Dockerfiles of the services compose builds, and the build context they see, checked without building.</summary>
public sealed class DockerfileTests(DeploymentFiles files) : IClassFixture<DeploymentFiles>
{
    /// <summary>Root files that change how every project restores and builds.</summary>
    private static readonly string[] BuildPolicy = ["global.json", "Directory.Build.props", "Directory.Packages.props", ".editorconfig"];

    /// <summary>Each Dockerfile compose builds from (both silos share one), with the project it builds.</summary>
    private IEnumerable<(DotnetProject Project, Dockerfile Dockerfile)> Images =>
        files.BuiltServices
            .DistinctBy(service => service.Dockerfile)
            .Select(service => (DeploymentFiles.ProjectOf(service), DeploymentFiles.DockerfileOf(service)));

    [Fact]
    public void Each_image_starts_the_assembly_its_project_builds()
    {
        Assert.NotEmpty(Images);

        Expect.None(Images
            .Where(image => !image.Dockerfile.Entrypoint.SequenceEqual(["dotnet", $"{image.Project.AssemblyName}.dll"]))
            .Select(image => $"{image.Dockerfile.Path} starts [{string.Join(", ", image.Dockerfile.Entrypoint)}], "
                + $"but {image.Project} builds {image.Project.AssemblyName}.dll"));
    }

    [Fact]
    public void Each_image_runs_on_the_runtime_its_project_needs()
    {
        var version = DotnetProject.DotnetVersion;

        foreach (var (project, dockerfile) in Images)
        {
            // A web project needs the ASP.NET Core shared framework; a worker needs only the .NET runtime.
            var runtime = project.IsWeb ? "aspnet" : "runtime";
            Assert.Matches(ImageOf("sdk", version), Dockerfile.BaseImageOf(dockerfile.Stages[0]));
            Assert.Matches(ImageOf(runtime, version), Dockerfile.BaseImageOf(dockerfile.FinalStage));
        }
    }

    [Fact]
    public void Images_run_as_a_non_root_user()
    {
        Expect.None(Images
            .Where(image => image.Dockerfile.User is null or "root" or "0" or "0:0")
            .Select(image => $"{image.Dockerfile.Path} runs as {image.Dockerfile.User ?? "root (no USER)"}"));
    }

    [Fact]
    public void Restore_sees_every_project_the_image_builds()
    {
        var problems = new List<string>();
        foreach (var (project, dockerfile) in Images)
        {
            var build = dockerfile.Stages.SingleOrDefault(stage => stage.Any(IsRestore))?.ToList();
            if (build is null)
            {
                problems.Add($"{dockerfile.Path} has no stage that runs dotnet restore");
                continue;
            }

            var restore = build.FindIndex(IsRestore);
            var publish = build.FindIndex(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal));
            var projects = project.WithReferences();

            // Restore reads the build policy and every referenced project file: copy them before it runs.
            var copiedBeforeRestore = CopiedSources(build.Take(restore));
            problems.AddRange(BuildPolicy.Concat(projects.Select(p => p.RelativePath))
                .Where(path => !copiedBeforeRestore.Any(source => Covers(source, path)))
                .Select(path => $"{dockerfile.Path}: {path} is not copied before dotnet restore"));

            if (!build[restore].Words.Contains(project.RelativePath))
            {
                problems.Add($"{dockerfile.Path}: '{build[restore].Arguments}' does not restore {project.RelativePath}");
            }

            if (publish < restore || !build[publish].Words.Contains(project.RelativePath) || !build[publish].Words.Contains("--no-restore"))
            {
                problems.Add($"{dockerfile.Path}: no 'dotnet publish {project.RelativePath} --no-restore' after the restore");
                continue;
            }

            var copiedBeforePublish = CopiedSources(build.Take(publish));
            problems.AddRange(projects
                .Where(p => !copiedBeforePublish.Any(source => Covers(source, p.Folder)))
                .Select(p => $"{dockerfile.Path}: the sources of {p.Folder} are not copied before dotnet publish"));
        }

        Expect.None(problems);
    }

    [Fact]
    public void The_build_context_leaves_out_build_output_and_keeps_the_sources()
    {
        var ignore = DockerIgnore.Load();
        string[] leftOut =
        [
            "src/Silo/bin/Release/net10.0/TicketQueue.Silo.dll",
            "src/Gateway/obj/project.assets.json",
            "src/Gateway/node_modules/react/index.js",
            "src/Gateway/ClientApp/node_modules/@microsoft/signalr/package.json",
            "src/Gateway/ClientApp/dist/index.html",
            "artifacts/test-results/Gateway.Tests/Gateway.Tests.trx",
            ".git/HEAD",
            ".env",
        ];
        Expect.None(leftOut.Where(path => !ignore.Excludes(path)).Select(path => $"{DockerIgnore.FileName} sends {path} to the build"));

        // Everything a Dockerfile copies from the context must get there.
        var copied = Images
            .SelectMany(image => CopiedSources(image.Dockerfile.Stages.SelectMany(stage => stage)))
            .Distinct()
            .Select(Normalize)
            .SelectMany(source => Directory.Exists(Repository.PathOf(source)) ? Repository.SourceFiles(source) : [source]);
        Expect.None(copied.Where(ignore.Excludes).Select(path => $"{DockerIgnore.FileName} leaves out {path}, which a Dockerfile copies"));
    }

    [Fact]
    public void An_image_whose_project_builds_a_web_front_end_has_node_in_its_build_stage()
    {
        var problems = new List<string>();
        foreach (var (project, dockerfile) in Images.Where(image => Repository.FileExists($"{image.Project.Folder}/ClientApp/package-lock.json")))
        {
            var build = dockerfile.Stages.Single(stage => stage.Any(IsRestore)).ToList();
            var publish = build.FindIndex(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal));
            var installsNode = build.FindIndex(i => i.Keyword == "RUN" && i.Words.Contains("nodejs") && i.Words.Contains("npm"));
            if (installsNode < 0 || installsNode > publish)
            {
                problems.Add($"{dockerfile.Path}: {project} runs an npm build, but no RUN installs nodejs and npm before dotnet publish");
            }

            // npm ci needs the lock file: copied before the install of the packages, or with src/.
            var lockFile = $"{project.Folder}/ClientApp/package-lock.json";
            if (!CopiedSources(build.Take(publish)).Any(source => Covers(source, lockFile)))
            {
                problems.Add($"{dockerfile.Path}: {lockFile} is not copied before dotnet publish");
            }
        }

        Expect.None(problems);
    }

    /// <summary>A Microsoft .NET image of this version: mcr.microsoft.com/dotnet/aspnet:10.0, or a variant such as 10.0-noble.</summary>
    private static string ImageOf(string repository, string version) =>
        $"^{Regex.Escape($"mcr.microsoft.com/dotnet/{repository}:{version}")}(-|$)";

    private static bool IsRestore(DockerInstruction instruction) =>
        instruction.Keyword == "RUN" && instruction.Arguments.Contains("dotnet restore", StringComparison.Ordinal);

    /// <summary>The context paths that COPY instructions take (not those copied from another stage).</summary>
    private static List<string> CopiedSources(IEnumerable<DockerInstruction> instructions) =>
        instructions
            .Where(i => i.Keyword is "COPY" or "ADD" && !i.Words.Any(word => word.StartsWith("--from", StringComparison.Ordinal)))
            .SelectMany(i => i.Words.Where(word => !word.StartsWith("--", StringComparison.Ordinal)).SkipLast(1))
            .ToList();

    /// <summary>Whether copying <paramref name="source"/> brings <paramref name="path"/> (the path itself, or a folder holding it).</summary>
    private static bool Covers(string source, string path)
    {
        var folder = Normalize(source);
        return folder is "" or "." || path == folder || path.StartsWith(folder + "/", StringComparison.Ordinal);
    }

    /// <summary>A COPY source as a path of the repository: "./src/" is "src".</summary>
    private static string Normalize(string source) =>
        (source.StartsWith("./", StringComparison.Ordinal) ? source[2..] : source).TrimEnd('/');
}
