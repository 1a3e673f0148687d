namespace TicketQueue.Browser.Tests;

/// <summary>The pipeline itself: the built gateway runs, Chromium starts, and a page of the gateway shows in it.</summary>
public sealed class HealthPageTests(GatewayServer gateway, BrowserSession browser) : BrowserTest(gateway, browser)
{
    [Fact]
    public async Task Chromium_shows_what_the_liveness_endpoint_answers()
    {
        using var client = Gateway.Client();
        var answer = await client.GetStringAsync("/health/live", Cancellation);
        Assert.False(string.IsNullOrWhiteSpace(answer));

        var page = await NewPage(Screen.Phone);
        var response = await page.GotoAsync("/health/live");

        Assert.Equal(200, response?.Status);
        await Expect(page.Locator("body")).ToContainTextAsync(answer);
        await Screenshot(page, "health-live-phone");
    }
}
