using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Clustering.Redis;

namespace TicketQueue.Grains.Hosting;

/// <summary>
/// Stops a cluster silo whose row has vanished from the membership table, so that its orchestrator (ECS,
/// compose's restart policy) starts it afresh.
/// </summary>
/// <remarks>
/// The table lives in Redis. If Redis loses its data (no persistence, no replica), every silo goes on
/// with the picture it had, but none can renew its row any more, and gateways that start or refresh
/// their list find no silo. Measured before this existed: the cluster went on for about two minutes,
/// then every request timed out, and nothing recovered by itself. A silo that starts again writes the
/// table anew, and the grains' state is in PostgreSQL, so a restart loses nothing. Only a row that is
/// missing counts: a table that cannot be read (Redis down) is waited out, as Orleans does. Before it
/// stops, the silo writes the table's version again, so that its stop can record it as dead and its
/// grains save their state, in seconds.
/// </remarks>
public sealed partial class MembershipWatchdog(
    IMembershipTable table,
    ILocalSiloDetails self,
    IClusterMembershipService membership,
    IHostApplicationLifetime lifetime,
    IConfiguration configuration,
    TimeProvider time,
    ILogger<MembershipWatchdog> logger) : BackgroundService
{
    public const string IntervalSetting = "TicketQueue:Membership:WatchdogInterval";

    /// <summary>Checks in a row that must find the row missing: one miss could be a table being rewritten.</summary>
    public const int MissesBeforeRestart = 3;

    /// <summary>The process's exit code when it stops itself: not 0, so that an orchestrator sees a failure.</summary>
    public const int ExitCode = 3;

    private TimeSpan Interval => IntervalFrom(configuration);

    /// <summary>
    /// The configured interval (default 10 s). Refused, naming the setting, outside 1 s to 5 min: a bare
    /// number is read by .NET as days, and a watchdog that looks every ten days never restarts anything.
    /// </summary>
    public static TimeSpan IntervalFrom(IConfiguration configuration)
    {
        var interval = configuration.GetValue<TimeSpan?>(IntervalSetting) ?? TimeSpan.FromSeconds(10);
        return interval >= TimeSpan.FromSeconds(1) && interval <= TimeSpan.FromMinutes(5)
            ? interval
            : throw new InvalidOperationException(
                $"{IntervalSetting} must be from 00:00:01 to 00:05:00 (is {interval}; a bare number is read as days, write hh:mm:ss).");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var misses = 0;
        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            // Before the silo has joined, its row may not be written yet.
            if (membership.CurrentSnapshot.GetSiloStatus(self.SiloAddress) != SiloStatus.Active)
            {
                misses = 0;
                continue;
            }

            try
            {
                var data = await table.ReadRowAsync(self.SiloAddress, stoppingToken);
                misses = data.Members.Any(member => member.Item1.SiloAddress.Equals(self.SiloAddress)) ? 0 : misses + 1;
            }
            catch (RedisClusteringException)
            {
                // The Redis provider's word for a table whose version key is gone: the table was lost.
                misses++;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Unreadable is not lost: Redis may be restarting.
                LogUnreadable(e);
                continue;
            }

            if (misses >= MissesBeforeRestart)
            {
                LogRowLost(self.SiloAddress, misses, Interval);
                await RecreateTable(stoppingToken);
                Environment.ExitCode = ExitCode;
                lifetime.StopApplication();
                return;
            }
        }
    }

    /// <summary>
    /// Writes an empty table (its version only; a table that is there is left alone) so that the stop can
    /// record this silo as shutting down, then dead. Without a table each of those writes retries until it
    /// times out: the stop took two minutes, and the host's 30 s ran out before the grains could save.
    /// </summary>
    private async Task RecreateTable(CancellationToken cancellationToken)
    {
        try
        {
            await table.InitializeMembershipTableAsync(tryInitTableVersion: true, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The stop goes ahead all the same, only slower.
            LogTableNotRecreated(e);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The lost membership table could not be written again; this silo's stop will wait for its membership writes to time out")]
    private partial void LogTableNotRecreated(Exception error);

    [LoggerMessage(Level = LogLevel.Critical, Message = "This silo ({Silo}) is missing from the membership table {Misses} checks in a row, {Interval} apart: the table's data was lost. Stopping so that a fresh start registers the cluster again")]
    private partial void LogRowLost(SiloAddress silo, int misses, TimeSpan interval);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The membership table could not be read; checking again later")]
    private partial void LogUnreadable(Exception error);
}
