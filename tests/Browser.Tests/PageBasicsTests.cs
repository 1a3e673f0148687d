namespace TicketQueue.Browser.Tests;

/// <summary>What every page owes a visitor: clear errors, Korean first, phones, keyboards, and a light waiting page.</summary>
public sealed class PageBasicsTests(GatewayServer gateway, BrowserSession browser) : BrowserTest(gateway, browser)
{
    [Fact]
    public async Task Korean_is_the_default_and_the_choice_of_English_is_remembered()
    {
        var page = await NewPage(Screen.Phone, locale: "ko-KR");
        await page.GotoAsync("/events");
        await Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "ko");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "공연", Exact = true })).ToBeVisibleAsync();
        await Screenshot(page, "events");

        await page.GetByRole(AriaRole.Button, new() { Name = "Switch to English" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Events", Exact = true })).ToBeVisibleAsync();
        await page.ReloadAsync();
        await Expect(page.Locator("html")).ToHaveAttributeAsync("lang", "en");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Events", Exact = true })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Bad_sign_ups_and_sign_ins_are_explained_on_the_form()
    {
        var page = await NewPage(Screen.Phone);
        await page.GotoAsync("/register?lang=en");
        await page.GetByLabel("Name").FillAsync("Fan");
        await page.GetByLabel("Email").FillAsync($"fan-{Guid.NewGuid():N}@example.com");
        // Past the browser's own length check: the server's rule is what is tested.
        await page.GetByLabel("Password").EvaluateAsync("e => e.removeAttribute('minlength')");
        await page.GetByLabel("Password").FillAsync("short");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign up" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("The password is too short or too common.");
        await Expect(page.GetByLabel("Password")).ToHaveAttributeAsync("aria-invalid", "true");
        await Expect(page).ToHaveURLAsync(new Regex("/register"));

        var fan = await Api.Register();
        await page.GotoAsync("/login");
        await page.GetByLabel("Email").FillAsync(fan.Email);
        await page.GetByLabel("Password").FillAsync("not the password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in", Exact = true }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("The email or password is wrong.");
        Assert.Null(await page.EvaluateAsync<string?>("() => localStorage.getItem('tq.auth')"));
    }

    [Fact]
    public async Task After_signing_in_the_next_page_is_always_on_this_site()
    {
        var page = await NewPage(Screen.Phone);
        var fan = await Api.Register();
        await page.GotoAsync("/login?lang=en&next=//evil.example/steal");
        await page.GetByLabel("Email").FillAsync(fan.Email);
        await page.GetByLabel("Password").FillAsync(fan.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in", Exact = true }).ClickAsync();

        await Expect(page).ToHaveURLAsync($"{Gateway.Address.ToString().TrimEnd('/')}/events");
    }

    [Fact]
    public async Task Pages_for_things_that_do_not_exist_say_so()
    {
        var page = await NewPage(Screen.Phone);
        await Pages.SignIn(page, await Api.Register());

        await page.GotoAsync("/events/no-such-event");
        await Expect(page.GetByText("There is no such event.")).ToBeVisibleAsync();
        await page.GotoAsync($"/reservations/{Guid.NewGuid()}");
        await Expect(page.GetByText("There is no such reservation.")).ToBeVisibleAsync();
        await page.GotoAsync("/reservations/not-a-guid");
        await Expect(page.GetByText("There is no such reservation.")).ToBeVisibleAsync();
        await page.GotoAsync("/queue/no-such-event");
        await Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("There is no such event.");
    }

    [Fact]
    public async Task A_signed_out_visitor_to_the_waiting_room_signs_in_first_and_lands_back_there()
    {
        var admin = await Api.AdminLogin();
        var eventId = await Api.CreateEvent(admin);
        await Api.UpdateQueue(admin, eventId, paused: true);
        var page = await NewPage(Screen.Phone);
        await page.GotoAsync($"/queue/{eventId}?lang=en");
        await Expect(page).ToHaveURLAsync(new Regex("/login\\?next="));

        var fan = await Api.Register();
        await page.GetByLabel("Email").FillAsync(fan.Email);
        await page.GetByLabel("Password").FillAsync(fan.Password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log in", Exact = true }).ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex($"/queue/{eventId}"));
        await Expect(page.Locator("#position")).ToHaveTextAsync("1");
    }

    [Fact]
    public async Task The_seat_map_works_from_the_keyboard()
    {
        var admin = await Api.AdminLogin();
        var eventId = await Api.CreateEvent(admin, new NewEvent { Blocks = [new("floor", "Floor", 3, 6, 10_000m)] });
        var page = await NewPage(Screen.Desktop);
        await Pages.SignIn(page, await Api.Register());
        await Pages.WaitForTurnAndOpenSeats(page, eventId);

        // One seat is in the tab order; arrows move between seats, Enter and Space choose.
        await Pages.Seat(page, "A-1").FocusAsync();
        await page.Keyboard.PressAsync("ArrowRight");
        await page.Keyboard.PressAsync("ArrowDown");
        await Expect(Pages.Seat(page, "B-2")).ToBeFocusedAsync();
        await page.Keyboard.PressAsync("Enter");
        await page.Keyboard.PressAsync("ArrowRight");
        await page.Keyboard.PressAsync("Space");
        await Expect(page.Locator(".chosen")).ToHaveTextAsync("Chosen: B-2, B-3");
        await Expect(Pages.Seat(page, "B-3")).ToHaveAttributeAsync("aria-label", "Seat B-3, selected");
        Assert.Equal(1, await page.Locator(".seatmap button.seat[tabindex='0']").CountAsync());
    }

    [Fact]
    public async Task The_waiting_page_fits_a_phone_and_is_light_and_cached()
    {
        var admin = await Api.AdminLogin();
        var eventId = await Api.CreateEvent(admin);
        await Api.UpdateQueue(admin, eventId, paused: true);
        var page = await NewPage(Screen.Phone);
        await Pages.SignIn(page, await Api.Register(), $"/queue/{eventId}");

        // A first visit from an empty cache, signed in as the same fan (a new browser, the session copied in).
        var auth = await page.EvaluateAsync<string>("() => localStorage.getItem('tq.auth')");
        var cold = await NewPage(Screen.Phone);
        await cold.Context.AddInitScriptAsync($"if (!localStorage.getItem('tq.auth')) localStorage.setItem('tq.auth', {System.Text.Json.JsonSerializer.Serialize(auth)});");
        await cold.GotoAsync($"/queue/{eventId}");
        await Expect(cold.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");
        var firstVisit = await TransferredStaticBytes(cold);
        TestContext.Current.TestOutputHelper?.WriteLine($"The waiting page's first visit transferred {firstVisit} bytes of HTML, scripts and styles.");
        Assert.InRange(firstVisit, 1, 40 * 1024);

        // No sideways scrolling on a 390-pixel-wide phone.
        Assert.True(await cold.EvaluateAsync<bool>("() => document.documentElement.scrollWidth <= window.innerWidth"));

        // Coming back: the hashed scripts and styles come from the browser's cache, not the network.
        var back = await cold.Context.NewPageAsync();
        await back.GotoAsync($"/queue/{eventId}");
        await Expect(back.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");
        var fromNetwork = await back.EvaluateAsync<string[]>(
            "() => performance.getEntriesByType('resource').filter(e => e.name.includes('/assets/') && e.transferSize > 0).map(e => e.name)");
        Assert.Empty(fromNetwork);
    }

    /// <summary>Bytes on the wire for the page's document and its scripts and styles (API calls and the hub left out).</summary>
    private static Task<long> TransferredStaticBytes(IPage page) => page.EvaluateAsync<long>(
        """
        () => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
            .filter(e => e.entryType === 'navigation' || e.name.includes('/assets/'))
            .reduce((sum, e) => sum + e.transferSize, 0)
        """);

    [Fact]
    public async Task A_page_the_service_keeps_refusing_is_asked_for_again_ever_more_slowly()
    {
        var page = await NewPage(Screen.Desktop);
        await Pages.SignIn(page, await Api.Register());
        var reads = 0;
        await page.RouteAsync("**/api/reservations", route =>
        {
            Interlocked.Increment(ref reads);
            return route.FulfillAsync(new() { Status = 503, ContentType = "application/problem+json", Body = """{"status":503,"code":"unavailable"}""" });
        });
        // The page's timers run on a clock that only the test moves (paused: installed clocks otherwise
        // also run in real time); the network stays real.
        var start = DateTime.UtcNow;
        await page.Clock.InstallAsync(new() { TimeDate = start });
        await page.Clock.PauseAtAsync(start.AddSeconds(1));
        await page.GotoAsync("/reservations");
        await ReadsReach(1);

        // After the n-th failure in a row the page waits 2^n s, times a jitter of 0.5 to 1.5: a crowd of
        // open tabs must not hammer a service that is down, nor come back in step.
        foreach (var (failure, earliest, latest) in new[] { (1, 1_000, 3_000), (2, 2_000, 6_000), (3, 4_000, 12_000) })
        {
            await page.Clock.RunForAsync(earliest - 50);
            await Task.Delay(300, TestContext.Current.CancellationToken);
            Assert.True(Volatile.Read(ref reads) == failure, $"asked again sooner than {earliest} ms after failure {failure}");

            await page.Clock.RunForAsync(latest - earliest + 100);
            await ReadsReach(failure + 1);
        }

        async Task ReadsReach(int count)
        {
            await Expect(page.Locator("#page-error")).ToBeVisibleAsync();
            for (var waited = 0; Volatile.Read(ref reads) < count && waited < 10_000; waited += 50)
            {
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }

            Assert.Equal(count, Volatile.Read(ref reads));
            // The failure has been shown, so the next wait is already counting on the page's clock.
            await Expect(page.Locator("#page-error")).ToBeVisibleAsync();
        }
    }

    [Fact]
    public async Task Logging_out_ends_the_session_on_the_server_as_well()
    {
        var page = await NewPage(Screen.Desktop);
        await Pages.SignIn(page, await Api.Register());
        await Expect(page.Locator(".who")).ToHaveTextAsync("Fan");
        var refreshToken = await page.EvaluateAsync<string>("() => JSON.parse(localStorage.getItem('tq.auth')).refreshToken");

        var logout = await page.RunAndWaitForResponseAsync(
            () => page.GetByRole(AriaRole.Button, new() { Name = "Log out" }).ClickAsync(),
            response => response.Url.EndsWith("/api/auth/logout", StringComparison.Ordinal));
        Assert.Equal(204, logout.Status);
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Log in" })).ToBeVisibleAsync();
        Assert.Null(await page.EvaluateAsync<string?>("() => localStorage.getItem('tq.auth')"));

        // Before, the button only forgot the tokens in this browser: a copy of the refresh token (a shared
        // computer, a backup) went on minting access tokens for 14 days.
        await Api.Send(HttpMethod.Post, "/api/auth/refresh", null, new JsonObject { ["refreshToken"] = refreshToken }, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Logging_out_while_a_token_refresh_is_answered_stays_logged_out()
    {
        var page = await NewPage(Screen.Desktop);
        await Pages.SignIn(page, await Api.Register());
        await Expect(page.Locator(".who")).ToHaveTextAsync("Fan");
        var rotated = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await page.RouteAsync("**/api/auth/refresh", async route =>
        {
            // The service rotates the token at once; its answer reaches the page only after the logout.
            var answer = await route.FetchAsync();
            rotated.TrySetResult(JsonNode.Parse(await answer.TextAsync())!["refreshToken"]!.GetValue<string>());
            await release.Task;
            await route.FulfillAsync(new() { Response = answer });
        });

        // A stale access token: the next page's request is refused, and the page refreshes.
        await page.EvaluateAsync("() => { const s = JSON.parse(localStorage.getItem('tq.auth')); s.accessToken = 'stale'; localStorage.setItem('tq.auth', JSON.stringify(s)); }");
        await page.GetByRole(AriaRole.Link, new() { Name = "My reservations" }).ClickAsync();
        var newToken = await rotated.Task.WaitAsync(TimeSpan.FromSeconds(15), TestContext.Current.CancellationToken);
        await page.GetByRole(AriaRole.Button, new() { Name = "Log out" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Log in" })).ToBeVisibleAsync();

        // Before, the late answer was saved: the browser was signed in again, with a session the logout
        // had not ended.
        var ended = await page.RunAndWaitForResponseAsync(
            () => { release.TrySetResult(); return Task.CompletedTask; },
            response => response.Url.EndsWith("/api/auth/logout", StringComparison.Ordinal)
                && response.Request.PostData?.Contains(newToken, StringComparison.Ordinal) == true);
        Assert.Equal(204, ended.Status);
        await page.UnrouteAllAsync();
        Assert.Null(await page.EvaluateAsync<string?>("() => localStorage.getItem('tq.auth')"));
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Log in" })).ToBeVisibleAsync();
        await Api.Send(HttpMethod.Post, "/api/auth/refresh", null, new JsonObject { ["refreshToken"] = newToken }, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task The_name_the_bar_could_not_load_appears_once_the_service_answers()
    {
        var page = await NewPage(Screen.Desktop);
        await Pages.SignIn(page, await Api.Register());
        await Expect(page.Locator(".who")).ToHaveTextAsync("Fan");

        var looks = 0;
        await page.RouteAsync("**/api/auth/me", async route =>
        {
            Interlocked.Increment(ref looks);
            await route.FulfillAsync(new() { Status = 503, ContentType = "application/problem+json", Body = """{"status":503,"code":"unavailable"}""" });
        });
        await page.ReloadAsync();
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "My reservations" })).ToBeVisibleAsync();
        await Expect(page.Locator(".who")).ToHaveCountAsync(0);
        Assert.True(Volatile.Read(ref looks) >= 1);

        // The next page asks again: before, the failed look was kept until the user signed out.
        await page.UnrouteAllAsync();
        await page.GetByRole(AriaRole.Link, new() { Name = "My reservations" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "My reservations" })).ToBeVisibleAsync();
        await Expect(page.Locator(".who")).ToHaveTextAsync("Fan");
    }

    [Fact]
    public async Task A_page_whose_data_cannot_be_loaded_says_why_and_loads_once_the_service_answers()
    {
        var page = await NewPage(Screen.Desktop);
        await Pages.SignIn(page, await Api.Register());
        var reads = 0;
        await page.RouteAsync("**/api/reservations", async route =>
        {
            if (Interlocked.Increment(ref reads) == 1)
            {
                await route.FulfillAsync(new() { Status = 503, ContentType = "application/problem+json", Body = """{"status":503,"code":"unavailable"}""" });
                return;
            }

            await route.ContinueAsync();
        });

        await page.GotoAsync("/reservations");

        // Before, the page stayed on "Loading…" for good.
        await Expect(page.Locator("#page-error")).ToHaveTextAsync("The service is busy for a moment; retrying by itself.");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Try again" })).ToBeVisibleAsync();
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "My reservations" })).ToBeVisibleAsync();
        await Expect(page.GetByText("You have no reservations.")).ToBeVisibleAsync();
        Assert.Equal(2, Volatile.Read(ref reads));

        // An answer that is not "busy" is not retried by itself: the button is the way.
        await page.RouteAsync("**/api/reservations", route => route.FulfillAsync(new() { Status = 404, ContentType = "application/problem+json", Body = """{"status":404,"code":"gone-for-the-test","detail":"Nothing here for the test."}""" }));
        await page.ReloadAsync();
        await Expect(page.Locator("#page-error")).ToHaveTextAsync("Nothing here for the test.");
        await page.UnrouteAllAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Try again" }).ClickAsync();
        await Expect(page.GetByText("You have no reservations.")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task An_event_that_has_started_says_sales_are_closed_and_offers_no_queue()
    {
        var admin = await Api.AdminLogin();
        var startsAt = DateTimeOffset.UtcNow.AddSeconds(3);
        var eventId = await Api.CreateEvent(admin, new NewEvent { Name = "Started already", StartsAt = startsAt });
        var page = await NewPage(Screen.Desktop);
        // Signed in straight onto the event: the event list (cached by browsers for 5 s) is first read after the start.
        await Pages.SignIn(page, await Api.Register(), $"/events/{eventId}");
        var wait = startsAt - DateTimeOffset.UtcNow + TimeSpan.FromMilliseconds(200);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, TestContext.Current.CancellationToken);
        }

        await page.GotoAsync($"/events/{eventId}");
        await Expect(page.Locator("#sales-closed")).ToHaveTextAsync("The event has started; sales are closed.");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Enter the waiting room" })).ToHaveCountAsync(0);
        await page.GotoAsync("/events");
        await Expect(page.Locator(".card").Filter(new() { HasText = "Started already" }).Locator(".badge")).ToHaveTextAsync("Sales closed");
    }
}
