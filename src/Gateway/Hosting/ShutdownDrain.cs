namespace TicketQueue.Gateway.Hosting;

/// <summary>
/// The first step of a graceful stop (SIGTERM): <c>/health/ready</c> answers 503 "shutting down" while the
/// gateway still serves everything else, for <c>TicketQueue:Shutdown:ReadinessDrain</c>, so a load balancer
/// takes it out of rotation before it stops listening. Then the server stops accepting and lets requests in
/// flight finish (the host's shutdown timeout, 30 s in all).
/// </summary>
public sealed class ShutdownDrain(ReadinessState readiness, IConfiguration configuration, IHostEnvironment environment,
    TimeProvider time, ILogger<ShutdownDrain> logger) : IHostedLifecycleService
{
    public const string Setting = "TicketQueue:Shutdown:ReadinessDrain";

    /// <summary>How long readiness fails before the server stops; none in Development, where nothing balances load.</summary>
    public TimeSpan Drain => configuration.GetValue<TimeSpan?>(Setting) ?? (environment.IsDevelopment() ? TimeSpan.Zero : TimeSpan.FromSeconds(5));

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        readiness.Stopping = true;
        var drain = Drain;
        if (drain <= TimeSpan.Zero)
        {
            return;
        }

        logger.LogInformation("Stopping: /health/ready answers 503 for {Drain} before the server stops accepting requests", drain);
        try
        {
            await Task.Delay(drain, time, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The shutdown timeout ran out: stop now.
        }
    }

    // Read at start, so that a value that cannot work stops the gateway now, not at its first SIGTERM.
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        var drain = Drain;
        return drain < TimeSpan.Zero || drain >= TimeSpan.FromSeconds(30)
            ? throw new InvalidOperationException($"{Setting} must be from 00:00:00 to under 00:00:30, the shutdown's whole budget (is {drain}).")
            : Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
