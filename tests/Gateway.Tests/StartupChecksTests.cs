namespace TicketQueue.Gateway.Tests;

/// <summary>Configuration mistakes stop the gateway at start, with a message that names the setting.</summary>
public sealed class StartupChecksTests
{
    private static readonly string Secret = new('s', 48);

    private static Exception StartFails(Dictionary<string, string?> settings)
    {
        using var factory = new GatewayFactory(settings);
        return Assert.ThrowsAny<Exception>(() => factory.Server);
    }

    [Fact]
    public void Outside_Development_the_development_admin_password_is_refused()
    {
        var error = StartFails(new()
        {
            ["environment"] = "Production",
            ["TicketQueue:Auth:SigningKey"] = Secret,
            ["TicketQueue:Tokens:SigningKey"] = Secret,
            ["TicketQueue:Admin:Password"] = "DEVELOPMENT-ONLY-admin-password",
        });

        Assert.Contains("TicketQueue:Admin:Password still has the development default", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("TicketQueue:Queue:TicketBlockSize", "0", "TicketBlockSize must be at least 1")]
    [InlineData("TicketQueue:Queue:TicketBlockSize", "-5", "TicketBlockSize must be at least 1")]
    [InlineData("TicketQueue:Queue:TickInterval", "00:00:00", "TickInterval must be longer than zero")]
    [InlineData("TicketQueue:Queue:TickInterval", "1", "TickInterval must be at most 00:01:00 (a bare number is read as days")]
    public void A_queue_engine_setting_that_cannot_work_is_refused(string key, string value, string message)
    {
        var error = StartFails(new() { [key] = value });

        Assert.Contains(message, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(129)]
    public void An_admin_password_sign_in_would_refuse_is_refused_at_start(int length)
    {
        var error = StartFails(new() { ["TicketQueue:Admin:Password"] = new string('p', length) });

        Assert.Contains($"TicketQueue:Admin:Password must be 8 to 128 characters (is {length})", error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("TicketQueue:Auth:AccessTokenMinutes", "0", "TicketQueue:Auth:AccessTokenMinutes must be 1 to 1440 (is 0)")]
    [InlineData("TicketQueue:Auth:RefreshTokenDays", "-1", "TicketQueue:Auth:RefreshTokenDays must be 1 to 365 (is -1)")]
    [InlineData("TicketQueue:RateLimits:AuthPerMinute", "0", "TicketQueue:RateLimits:AuthPerMinute must be 1 to 1000000 (is 0)")]
    [InlineData("TicketQueue:Shutdown:ReadinessDrain", "-00:00:01", "TicketQueue:Shutdown:ReadinessDrain must be from 00:00:00 to under 00:00:30")]
    [InlineData("TicketQueue:Shutdown:ReadinessDrain", "5", "TicketQueue:Shutdown:ReadinessDrain must be from 00:00:00 to under 00:00:30")]
    public void A_setting_that_would_fail_only_at_run_time_is_refused_at_start(string key, string value, string message)
    {
        // Before, the gateway started, and then every sign-in was a 500, or the drain failed at SIGTERM.
        var error = StartFails(new() { [key] = value });

        Assert.Contains(message, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_trusted_proxy_network_that_is_no_network_is_refused_at_start()
    {
        var error = StartFails(new() { ["TicketQueue:Proxies:KnownNetworks:0"] = "10.0.0.0/33" });

        Assert.Contains("TicketQueue:Proxies:KnownNetworks has '10.0.0.0/33', which is no CIDR network", error.ToString(), StringComparison.Ordinal);
    }
}
