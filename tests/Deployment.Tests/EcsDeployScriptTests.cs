using System.Text.Json.Nodes;

namespace TicketQueue.Deployment.Tests;

/// <summary>
/// deploy.sh deploy, run with Debian's AWS CLI against <see cref="LoopbackAws"/>: the calls it makes, in
/// order, and how it ends. What AWS then does with them (starting tasks, draining targets) is not here.
/// </summary>
public sealed class EcsDeployScriptTests : IDisposable
{
    private const string Silo = "ticketqueue-silo";
    private const string Gateway = "ticketqueue-gateway";

    private readonly LoopbackAws _aws = new();

    public void Dispose() => _aws.Dispose();

    [Fact]
    public void A_first_deploy_creates_the_silos_then_the_gateways_and_scales_both()
    {
        var run = EcsDeployment.Deploy(EcsDeployment.ValidSettings, _aws);

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}\n{run.Output}\n{run.Errors}");
        Assert.Equal(["/ecs/ticketqueue/gateway", "/ecs/ticketqueue/silo"], _aws.LogGroups.Order());
        Assert.All(_aws.CallsOf("PutRetentionPolicy"), call => Assert.Equal(7, (int)call["retentionInDays"]!));

        // The silos are registered, created and scaled before the gateways' turn comes.
        Assert.Equal([Silo, Gateway], _aws.CallsOf("CreateService").Select(call => (string)call["serviceName"]!));
        var silosDone = _aws.IndexOf("RegisterScalableTarget", call => ((string)call["ResourceId"]!).EndsWith(Silo, StringComparison.Ordinal));
        var gatewaysBegin = _aws.IndexOf("RegisterTaskDefinition", call => (string)call["family"]! == Gateway);
        Assert.True(silosDone >= 0 && silosDone < gatewaysBegin,
            $"the gateway was deployed before the silos were done: {string.Join(", ", _aws.Calls.Select(call => call.Operation))}");

        // What ECS was given is the rendered file, with the image of this build.
        var siloTask = _aws.CallsOf("RegisterTaskDefinition").Single(call => (string)call["family"]! == "ticketqueue-silo");
        Assert.Equal("123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/ticketqueue-silo:4a099b7", (string)siloTask["containerDefinitions"]![0]!["image"]!);
        Assert.Equal("arn:aws:ecs:ap-northeast-2:123456789012:task-definition/ticketqueue-gateway:1", (string)_aws.Service(Gateway)!["taskDefinition"]!);

        var scaling = JsonNode.Parse(Repository.Read($"{EcsDeployment.Folder}/scaling.json"))!;
        foreach (var target in _aws.CallsOf("RegisterScalableTarget"))
        {
            var service = ((string)target["ResourceId"]!).Split('/')[^1];
            Assert.Equal($"service/ticketqueue/{service}", (string)target["ResourceId"]!);
            Assert.Equal((int)scaling[service]!["min"]!, (int)target["MinCapacity"]!);
            Assert.Equal((int)scaling[service]!["max"]!, (int)target["MaxCapacity"]!);
        }

        Assert.Equal(2, _aws.CallsOf("PutScalingPolicy").Count);
        Assert.Empty(run.TemporaryFolder.EnumerateFileSystemInfos());
    }

    [Fact]
    public void A_second_deploy_updates_both_services_to_the_new_revision_without_touching_their_count()
    {
        Assert.Equal(0, EcsDeployment.Deploy(EcsDeployment.ValidSettings, _aws).ExitCode);
        var next = new Dictionary<string, string>(EcsDeployment.ValidSettings) { ["IMAGE_TAG"] = "5b1c0de" };

        var run = EcsDeployment.Deploy(next, _aws);

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}\n{run.Output}\n{run.Errors}");
        Assert.Equal(2, _aws.CallsOf("CreateService").Count); // from the first deploy only
        var updates = _aws.CallsOf("UpdateService");
        Assert.Equal([Silo, Gateway], updates.Select(call => (string)call["service"]!));
        Assert.All(updates, update => Assert.False(update.ContainsKey("desiredCount"), "an update reset the scaled task count"));
        Assert.Equal("arn:aws:ecs:ap-northeast-2:123456789012:task-definition/ticketqueue-silo:2", (string)_aws.Service(Silo)!["taskDefinition"]!);
        // Log groups that exist are not created again (CreateLogGroup would fail on them).
        Assert.Equal(2, _aws.CallsOf("CreateLogGroup").Count);
        Assert.Empty(run.TemporaryFolder.EnumerateFileSystemInfos());
    }

    [Fact]
    public void A_deploy_that_ECS_rolled_back_fails_and_goes_no_further()
    {
        Assert.Equal(0, EcsDeployment.Deploy(EcsDeployment.ValidSettings, _aws).ExitCode);
        _aws.RollBackUpdatesOf.Add(Silo);

        var run = EcsDeployment.Deploy(new Dictionary<string, string>(EcsDeployment.ValidSettings) { ["IMAGE_TAG"] = "broken" }, _aws);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains($"{Silo} did not roll out arn:aws:ecs:ap-northeast-2:123456789012:task-definition/ticketqueue-silo:2", run.Errors, StringComparison.Ordinal);
        // The gateways keep the revision that works with the silos still running.
        Assert.DoesNotContain(_aws.CallsOf("UpdateService"), call => (string)call["service"]! == Gateway);
        Assert.Equal("arn:aws:ecs:ap-northeast-2:123456789012:task-definition/ticketqueue-gateway:1", (string)_aws.Service(Gateway)!["taskDefinition"]!);
    }

    [Fact]
    public void A_deploy_with_a_missing_setting_calls_no_AWS_API()
    {
        var settings = new Dictionary<string, string>(EcsDeployment.ValidSettings);
        settings.Remove("GATEWAY_TARGET_GROUP_ARN");

        var run = EcsDeployment.Deploy(settings, _aws);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("GATEWAY_TARGET_GROUP_ARN is not set", run.Errors, StringComparison.Ordinal);
        Assert.Empty(_aws.Calls);
    }
}
