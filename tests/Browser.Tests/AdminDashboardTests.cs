namespace TicketQueue.Browser.Tests;

/// <summary>An operator watches an opening and steers its queue from the dashboard.</summary>
public sealed class AdminDashboardTests(GatewayServer gateway, BrowserSession browser) : BrowserTest(gateway, browser)
{
    private static readonly User Operator = new(GatewayServer.AdminEmail, GatewayServer.AdminPassword, "", "");

    [Fact]
    public async Task The_dashboard_shows_the_line_and_its_controls_pause_resume_and_pace_the_queue()
    {
        var admin = await Api.AdminLogin();
        var eventId = await Api.CreateEvent(admin);
        await Api.UpdateQueue(admin, eventId, paused: true);
        for (var i = 0; i < 9; i++)
        {
            await Api.JoinQueue((await Api.Register()).AccessToken, eventId);
        }

        var fan = await NewPage(Screen.Phone);
        await Pages.SignIn(fan, await Api.Register(), $"/queue/{eventId}");
        await Expect(fan.Locator("#notice")).ToContainTextAsync("paused");

        var dashboard = await NewPage(Screen.Desktop);
        await Pages.SignIn(dashboard, Operator, $"/admin/events/{eventId}");
        await Expect(dashboard.Locator("#waiting")).ToHaveTextAsync("10");
        await Expect(dashboard.Locator("#state")).ToHaveTextAsync("Paused");
        await Expect(dashboard.Locator("#current-rate")).ToHaveTextAsync("600");
        await Screenshot(dashboard, "admin-dashboard");

        // Set a slower pace, then let the line go: it moves at the new rate.
        await dashboard.GetByLabel("Admission rate (per minute)").FillAsync("30");
        await dashboard.GetByRole(AriaRole.Button, new() { Name = "Set rate" }).ClickAsync();
        await Expect(dashboard.Locator("#current-rate")).ToHaveTextAsync("30");
        Assert.Equal(30, (await Api.Stats(admin, eventId))["admissionsPerMinute"]!.GetValue<int>());

        var resumed = System.Diagnostics.Stopwatch.StartNew();
        await dashboard.GetByRole(AriaRole.Button, new() { Name = "Resume admission" }).ClickAsync();
        await Expect(dashboard.Locator("#state")).ToHaveTextAsync("Admitting");
        await Expect(fan.Locator("#notice")).ToBeHiddenAsync();
        await Expect(dashboard.Locator("#cursor")).Not.ToHaveTextAsync("0");
        await Expect(dashboard.Locator("#waiting")).Not.ToHaveTextAsync("10");
        // At 30 a minute one place is admitted every 2 s (the pacer never saves up more than one); at the old
        // 600 all ten would be in on the first tick. The bound grows with the time taken, so a slow run only
        // loosens it.
        await Task.Delay(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
        var cursor = (await Api.Stats(admin, eventId))["servingCursor"]!.GetValue<long>();
        Assert.InRange(cursor, 1, 2 + (long)(resumed.Elapsed.TotalSeconds / 2));

        await dashboard.GetByRole(AriaRole.Button, new() { Name = "Pause admission" }).ClickAsync();
        await Expect(dashboard.Locator("#state")).ToHaveTextAsync("Paused");
        await Expect(dashboard.GetByRole(AriaRole.Button, new() { Name = "Resume admission" })).ToHaveAttributeAsync("aria-pressed", "true");
        Assert.True((await Api.Stats(admin, eventId))["paused"]!.GetValue<bool>());
        // The fans hear about the pause live.
        await Expect(fan.Locator("#notice")).ToContainTextAsync("paused");

        await dashboard.GetByLabel("Max shoppers at once").FillAsync("2");
        await dashboard.GetByRole(AriaRole.Button, new() { Name = "Set maximum" }).ClickAsync();
        await Expect(dashboard.GetByText("Saved.")).ToBeVisibleAsync();
        Assert.Equal(2, (await Api.Stats(admin, eventId))["maxActiveShoppers"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_fan_who_opens_the_dashboard_is_told_it_is_for_admins_and_sees_no_figures()
    {
        var admin = await Api.AdminLogin();
        var eventId = await Api.CreateEvent(admin);
        var page = await NewPage(Screen.Phone);
        await Pages.SignIn(page, await Api.Register(), $"/admin/events/{eventId}");

        await Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("Only admins can see this page.");
        await Expect(page.Locator("#stats")).ToHaveCountAsync(0);
    }
}
