namespace TicketQueue.Browser.Tests.Infrastructure;

/// <summary>What a visitor does on the pages, in English (the tests switch with ?lang=en unless they are about Korean).</summary>
public static class Pages
{
    /// <summary>Signs in through the login form and waits until the app has moved on.</summary>
    public static async Task SignIn(IPage page, User user, string next = "/events")
    {
        await page.GotoAsync($"/login?lang=en&next={Uri.EscapeDataString(next)}");
        await page.GetByLabel("Email").FillAsync(user.Email);
        await page.GetByLabel("Password").FillAsync(user.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in", Exact = true }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex(Regex.Escape(next.Split('?')[0]) + "$"));
    }

    /// <summary>Opens the waiting room and waits for the turn; returns on the seat map.</summary>
    public static async Task WaitForTurnAndOpenSeats(IPage page, string eventId)
    {
        await page.GotoAsync($"/queue/{eventId}");
        await page.GetByRole(AriaRole.Link, new() { Name = "Choose your seats" }).ClickAsync();
        await Expect(page.Locator(".seatmap button.seat").First).ToBeVisibleAsync();
    }

    public static ILocator Seat(IPage page, string seatId) => page.Locator($"[data-seat='{seatId}']");
}
