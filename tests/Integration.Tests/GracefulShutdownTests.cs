using System.Diagnostics;
using System.Net;
using TicketQueue.Integration.Tests.Infrastructure;

namespace TicketQueue.Integration.Tests;

/// <summary>A gateway process told to stop (SIGTERM, as ECS or Kubernetes does) leaves the load balancer in order.</summary>
public sealed class GracefulShutdownTests
{
    [Fact]
    public async Task On_SIGTERM_readiness_fails_while_requests_are_still_served_then_the_process_exits_cleanly()
    {
        var ct = TestContext.Current.CancellationToken;
        // Owns the process: disposing it kills whatever is left.
        using var gateway = GatewayProcess.StartEmbedded(new Dictionary<string, string> { ["TicketQueue__Shutdown__ReadinessDrain"] = "00:00:03" });
        var process = gateway.Process;
        await gateway.WaitUntilReady(TimeSpan.FromSeconds(90));
        using var client = gateway.Client();

        await ExternalProcess.Run("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(5));

        // Before, the listening socket closed at once: a balancer still sending traffic got refused connections.
        var notReady = 0;
        var servedWhileNotReady = 0;
        var watch = Stopwatch.StartNew();
        while (!process.HasExited && watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            try
            {
                using var ready = await client.GetAsync("/health/ready", ct);
                if (ready.StatusCode == HttpStatusCode.ServiceUnavailable && (await ready.Content.ReadAsStringAsync(ct)).Contains("shutting down", StringComparison.Ordinal))
                {
                    notReady++;
                    using var events = await client.GetAsync("/api/events", ct);
                    if (events.StatusCode == HttpStatusCode.OK)
                    {
                        servedWhileNotReady++;
                    }
                }
            }
            catch (HttpRequestException)
            {
                // Stopped listening: the drain is over.
            }

            await Task.Delay(50, ct);
        }

        Assert.True(notReady > 0, $"readiness never answered 503 \"shutting down\" after SIGTERM:\n{process.Tail()}");
        Assert.True(servedWhileNotReady > 0, "no request was served while readiness was failing");
        Assert.True(process.HasExited, $"the gateway did not exit within 30 s of SIGTERM:\n{process.Tail()}");
        // Cleanly: an orchestrator reads any other exit code as a crash.
        Assert.True(process.ExitCode == 0, $"the gateway exited with code {process.ExitCode}:\n{process.Tail()}");
    }
}
