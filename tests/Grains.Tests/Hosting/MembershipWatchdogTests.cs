using Microsoft.Extensions.Configuration;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Grains.Tests.Hosting;

public sealed class MembershipWatchdogTests
{
    private static IConfiguration With(string? interval) => new ConfigurationBuilder()
        .AddInMemoryCollection(interval is null ? [] : [new(MembershipWatchdog.IntervalSetting, interval)])
        .Build();

    [Theory]
    [InlineData(null, 10)]
    [InlineData("00:00:01", 1)]
    [InlineData("00:05:00", 300)]
    public void The_interval_is_the_configured_one_or_ten_seconds(string? configured, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), MembershipWatchdog.IntervalFrom(With(configured)));
    }

    [Theory]
    [InlineData("10", "10.00:00:00")]
    [InlineData("00:00:00", "00:00:00")]
    [InlineData("00:00:00.500", "00:00:00.5000000")]
    [InlineData("00:05:01", "00:05:01")]
    public void An_interval_that_would_never_restart_a_silo_in_time_is_refused_at_start(string configured, string read)
    {
        // "10" meant ten seconds to whoever wrote it; .NET reads ten days, and the lost cluster never re-forms.
        var error = Assert.Throws<InvalidOperationException>(() => MembershipWatchdog.IntervalFrom(With(configured)));

        Assert.Equal($"TicketQueue:Membership:WatchdogInterval must be from 00:00:01 to 00:05:00 (is {read}; a bare number is read as days, write hh:mm:ss).", error.Message);
    }
}
