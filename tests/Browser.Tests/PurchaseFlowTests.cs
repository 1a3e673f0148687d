namespace TicketQueue.Browser.Tests;

/// <summary>A fan's whole way through the pages: sign up, find the event, wait, choose seats, pay, see the ticket.</summary>
public sealed class PurchaseFlowTests(GatewayServer gateway, BrowserSession browser) : BrowserTest(gateway, browser)
{
    [Fact]
    public async Task A_new_fan_signs_up_waits_chooses_two_seats_pays_and_finds_the_ticket()
    {
        var admin = await Api.AdminLogin();
        var eventId = await Api.CreateEvent(admin, new NewEvent { Name = "Purchase flow night", Blocks = [new("floor", "Floor", 4, 10, 55_000m)] });
        var page = await NewPage(Screen.Desktop);

        // Korean first; the header's switch turns the site to English.
        await page.GotoAsync("/register");
        await Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "ko");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "회원가입" })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Switch to English" }).ClickAsync();
        await Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "en");

        var email = $"fan-{Guid.NewGuid():N}@example.com";
        await page.GetByLabel("Name").FillAsync("Browser Fan");
        await page.GetByLabel("Email").FillAsync(email);
        await page.GetByLabel("Password").FillAsync("correct horse battery");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign up" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/events$"));

        await page.GetByRole(AriaRole.Link, new() { Name = "Purchase flow night" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Purchase flow night" })).ToBeVisibleAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "Enter the waiting room" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex($"/queue/{eventId}$"));

        await page.GetByRole(AriaRole.Link, new() { Name = "Choose your seats" }).ClickAsync();
        await Pages.Seat(page, "B-5").ClickAsync();
        await Pages.Seat(page, "B-6").ClickAsync();
        await Expect(page.Locator(".chosen")).ToHaveTextAsync("Chosen: B-5, B-6");
        await Expect(Pages.Seat(page, "B-5")).ToHaveAttributeAsync("aria-pressed", "true");
        await Screenshot(page, "seat-map");

        await page.GetByRole(AriaRole.Button, new() { Name = "Reserve chosen seats" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/reservations/[0-9a-f-]{36}$"));
        await Expect(page.Locator("#status")).ToHaveTextAsync("Awaiting payment");
        await Expect(page.Locator("#remaining")).ToContainTextAsync("left");

        await page.GetByRole(AriaRole.Button, new() { Name = "Pay (sandbox)" }).ClickAsync();
        await Expect(page.GetByText("Your reservation is confirmed.")).ToBeVisibleAsync();
        await Expect(page.Locator("#status")).ToHaveTextAsync("Confirmed");
        await Expect(page.Locator(".ticket-seats")).ToHaveTextAsync("B-5 · B-6");
        await Screenshot(page, "confirmation");
        var reservationId = page.Url.Split('/')[^1];

        await page.GetByRole(AriaRole.Link, new() { Name = "My reservations" }).First.ClickAsync();
        await Expect(page.Locator(".cards li")).ToHaveCountAsync(1);
        await Expect(page.Locator(".cards li")).ToContainTextAsync("Confirmed");

        // What the pages showed is what the server holds: the fan's one reservation, paid, for those seats.
        var token = await page.EvaluateAsync<string>("() => JSON.parse(localStorage.getItem('tq.auth')).accessToken");
        var reservation = Assert.Single(await Api.Reservations(token))!;
        Assert.Equal(reservationId, reservation["reservationId"]!.GetValue<string>());
        Assert.Equal("confirmed", reservation["status"]!.GetValue<string>());
        Assert.Equal(["B-5", "B-6"], reservation["seats"]!.AsArray().Select(s => s!.GetValue<string>()).Order());
        var stats = await Api.Stats(admin, eventId);
        Assert.Equal(2, stats["seatsSold"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_free_ticket_is_confirmed_without_the_payment_companys_checkout()
    {
        var admin = await Api.AdminLogin();
        var eventId = await Api.CreateEvent(admin, new NewEvent { Name = "Free rehearsal", Blocks = [new("floor", "Floor", 2, 10, 0m)] });
        var fan = await Api.Register();
        var page = await NewPage(Screen.Phone);
        await Pages.SignIn(page, fan);
        await Pages.WaitForTurnAndOpenSeats(page, eventId);
        var checkouts = 0;
        page.Request += (_, request) => checkouts += request.Url.Contains("/api/payments/sandbox/checkout", StringComparison.Ordinal) ? 1 : 0;

        await page.GetByLabel("Tickets").FillAsync("1");
        await page.GetByRole(AriaRole.Button, new() { Name = "Reserve 1 best seats" }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/reservations/[0-9a-f-]{36}$"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Pay (sandbox)" }).ClickAsync();

        // Before, the page went to the sandbox's checkout first, which refused a zero amount: the free
        // ticket could never be confirmed in the browser.
        await Expect(page.Locator("#status")).ToHaveTextAsync("Confirmed");
        Assert.Equal(0, checkouts);
    }

    [Fact]
    public async Task A_late_answer_for_the_block_left_behind_is_not_drawn_as_the_block_chosen()
    {
        var admin = await Api.AdminLogin();
        var eventId = await Api.CreateEvent(admin, new NewEvent
        {
            Blocks = [new("floor", "Floor", 2, 10, 50_000m), new("balcony", "Balcony", 3, 8, 30_000m)],
        });
        var page = await NewPage(Screen.Desktop);
        await Pages.SignIn(page, await Api.Register());
        await Pages.WaitForTurnAndOpenSeats(page, eventId);
        await Expect(page.Locator(".seatmap button.seat")).ToHaveCountAsync(20);

        // The floor's next refresh is slow: its answer arrives after the visitor switched to the balcony.
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await page.RouteAsync($"**/api/events/{eventId}/blocks/floor/seats", async route =>
        {
            held.TrySetResult();
            await release.Task;
            await route.ContinueAsync();
        });
        await held.Task.WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);
        await page.Locator("#block").SelectOptionAsync("balcony");
        await Expect(page.Locator(".seatmap button.seat")).ToHaveCountAsync(24);

        var floorAnswered = page.WaitForResponseAsync($"**/api/events/{eventId}/blocks/floor/seats");
        release.TrySetResult();
        await floorAnswered;
        await Task.Delay(300, TestContext.Current.CancellationToken);

        // Before, the floor's 20 seats were drawn under the balcony's name, and a hold went to the balcony.
        // Looked at once, not waited for: the next refresh (every 5 s) would draw the balcony again.
        Assert.Equal(24, await page.Locator(".seatmap button.seat").CountAsync());
        Assert.Contains("Balcony", await page.Locator(".seatmap").GetAttributeAsync("aria-label"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Asking_for_the_best_seats_holds_that_many_together()
    {
        var admin = await Api.AdminLogin();
        var eventId = await Api.CreateEvent(admin);
        var fan = await Api.Register();
        var page = await NewPage(Screen.Phone);
        await Pages.SignIn(page, fan);
        await Pages.WaitForTurnAndOpenSeats(page, eventId);

        await page.GetByLabel("Tickets").FillAsync("3");
        await page.GetByRole(AriaRole.Button, new() { Name = "Reserve 3 best seats" }).ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/reservations/[0-9a-f-]{36}$"));
        var seats = (await page.Locator("#seats").TextContentAsync())!.Split(" · ")[1].Split(", ");
        Assert.Equal(3, seats.Length);
        // Together: one row, side by side (the block is empty, so the best three are the front row's first).
        Assert.Single(seats.Select(s => s.Split('-')[0]).Distinct());
        var numbers = seats.Select(s => int.Parse(s.Split('-')[1], System.Globalization.CultureInfo.InvariantCulture)).Order().ToList();
        Assert.Equal(Enumerable.Range(numbers[0], 3), numbers);
        var held = Assert.Single(await Api.Reservations(fan.AccessToken))!;
        Assert.Equal(seats.Order(), held["seats"]!.AsArray().Select(s => s!.GetValue<string>()).Order());
    }
}
