namespace TicketQueue.Browser.Tests;

/// <summary>Two fans in two browsers click the same seat at the same moment: the seat is sold once.</summary>
public sealed class SeatRaceTests(GatewayServer gateway, BrowserSession browser) : BrowserTest(gateway, browser)
{
    [Fact]
    public async Task Two_browsers_race_for_one_seat_exactly_one_wins_and_the_other_is_told_clearly()
    {
        var admin = await Api.AdminLogin();
        var eventId = await Api.CreateEvent(admin, new NewEvent { Blocks = [new("floor", "Floor", 3, 8, 70_000m)] });
        var fans = new[] { await Api.Register(), await Api.Register() };
        var pages = new[] { await NewPage(Screen.Desktop), await NewPage(Screen.Phone) };
        for (var i = 0; i < 2; i++)
        {
            await Pages.SignIn(pages[i], fans[i]);
            await Pages.WaitForTurnAndOpenSeats(pages[i], eventId);
            await Pages.Seat(pages[i], "B-4").ClickAsync();
            await Expect(Pages.Seat(pages[i], "B-4")).ToHaveAttributeAsync("aria-pressed", "true");
        }

        // Both press at once.
        await Task.WhenAll(pages.Select(p => p.GetByRole(AriaRole.Button, new() { Name = "Reserve chosen seats" }).ClickAsync()));

        // Each page ends one way or the other: on its reservation, or with the message on the seat map.
        var taken = "Someone else just took that seat. Please choose another.";
        var won = new bool[2];
        for (var i = 0; i < 2; i++)
        {
            var reservation = pages[i].Locator("#status");
            var refused = pages[i].GetByRole(AriaRole.Alert).Filter(new() { HasText = taken });
            await Expect(reservation.Or(refused)).ToBeVisibleAsync();
            won[i] = await reservation.IsVisibleAsync();
        }

        Assert.Equal(1, won.Count(w => w));
        var winner = Array.IndexOf(won, true);
        var loser = 1 - winner;
        await Expect(pages[winner].Locator("#seats")).ToHaveTextAsync("floor · B-4");
        await Expect(pages[winner].Locator("#status")).ToHaveTextAsync("Awaiting payment");

        // The loser's map shows the seat as gone, and the loser can still pick another.
        await Expect(Pages.Seat(pages[loser], "B-4")).ToHaveClassAsync(new Regex(@"\bheld\b"));
        await Expect(pages[loser].Locator(".chosen")).ToHaveTextAsync("No seats chosen yet.");
        await Expect(pages[loser].Locator("[data-available=floor]")).ToHaveTextAsync("23 / 24");
        await Screenshot(pages[loser], "seat-race-loser");
        await Pages.Seat(pages[loser], "B-5").ClickAsync();
        await pages[loser].GetByRole(AriaRole.Button, new() { Name = "Reserve chosen seats" }).ClickAsync();
        await Expect(pages[loser].Locator("#seats")).ToHaveTextAsync("floor · B-5");

        // The server agrees: B-4 is in exactly one reservation, the winner's.
        var held = new List<string>[2];
        for (var i = 0; i < 2; i++)
        {
            held[i] = [.. (await Api.Reservations(fans[i].AccessToken)).SelectMany(r => r!["seats"]!.AsArray().Select(s => s!.GetValue<string>()))];
        }

        Assert.Equal(["B-4"], held[winner]);
        Assert.Equal(["B-5"], held[loser]);
        Assert.Equal(2, (await Api.Stats(admin, eventId))["seatsHeld"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_hold_whose_answer_was_lost_is_found_again_when_the_fan_presses_again_not_made_twice()
    {
        var admin = await Api.AdminLogin();
        var eventId = await Api.CreateEvent(admin, new NewEvent { Blocks = [new("floor", "Floor", 3, 8, 70_000m)] });
        var fan = await Api.Register();
        var page = await NewPage(Screen.Desktop);
        await Pages.SignIn(page, fan);
        await Pages.WaitForTurnAndOpenSeats(page, eventId);
        var holds = 0;
        // The first hold reaches the server and is made; its answer is lost on the way back.
        await page.RouteAsync($"**/api/events/{eventId}/reservations", async route =>
        {
            if (route.Request.Method == "POST" && Interlocked.Increment(ref holds) == 1)
            {
                await route.FetchAsync();
                await route.AbortAsync("connectionreset");
                return;
            }

            await route.ContinueAsync();
        });

        var holdBest = page.GetByRole(AriaRole.Button, new() { Name = "Reserve 2 best seats" });
        await holdBest.ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToBeVisibleAsync();
        await holdBest.ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/reservations/[0-9a-f-]{36}$"));

        // Before, the second press made a second reservation: two pairs of seats held for one fan.
        var token = await page.EvaluateAsync<string>("() => JSON.parse(localStorage.getItem('tq.auth')).accessToken");
        var reservation = Assert.Single(await Api.Reservations(token))!;
        Assert.Equal(page.Url.Split('/')[^1], reservation["reservationId"]!.GetValue<string>());
        Assert.Equal(2, Volatile.Read(ref holds));
    }
}
