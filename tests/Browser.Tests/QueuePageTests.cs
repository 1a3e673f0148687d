namespace TicketQueue.Browser.Tests;

/// <summary>The waiting room: live position, keeping one's place, and the connection's bad days.</summary>
public sealed class QueuePageTests(GatewayServer gateway, BrowserSession browser) : BrowserTest(gateway, browser)
{
    /// <summary>An on-sale event whose queue admits no one until the test resumes it, with <paramref name="ahead"/> fans already in line.</summary>
    private async Task<(string Admin, string EventId)> PausedLine(int ahead, string name = "Browser test night")
    {
        var admin = await Api.AdminLogin();
        var eventId = await Api.CreateEvent(admin, new NewEvent { Name = name });
        await Api.UpdateQueue(admin, eventId, paused: true);
        for (var i = 0; i < ahead; i++)
        {
            await Api.JoinQueue((await Api.Register()).AccessToken, eventId);
        }

        return (admin, eventId);
    }

    [Fact]
    public async Task The_position_moves_live_and_ends_in_admission_without_a_reload()
    {
        var (admin, eventId) = await PausedLine(ahead: 5, name: "봄 콘서트 · 올림픽홀");
        var page = await NewPage(Screen.Phone);
        var eventListRequests = 0;
        page.Request += (_, request) =>
        {
            if (new Uri(request.Url).AbsolutePath == "/api/events")
            {
                Interlocked.Increment(ref eventListRequests);
            }
        };
        await Pages.SignIn(page, await Api.Register(), $"/queue/{eventId}");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("봄 콘서트 · 올림픽홀 · Waiting room");
        // Straight from a link, the name comes with the join: 100,000 arrivals are not 100,000 event-list reads.
        Assert.Equal(0, Volatile.Read(ref eventListRequests));

        await Expect(page.Locator("#position")).ToHaveTextAsync("6");
        await Expect(page.Locator("#ticket-number")).ToHaveTextAsync("Your number #6");
        await Expect(page.Locator("#notice")).ToContainTextAsync("paused");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");
        // Screen readers hear the place once, politely, not on every tick.
        await Expect(page.Locator("[aria-live=polite]")).ToHaveTextAsync("You are number 6 in line.");
        await Expect(page.GetByRole(AriaRole.Progressbar)).ToHaveAttributeAsync("aria-valuenow", "0");

        // The Korean page for the docs, then back: the language switch redraws in place.
        await page.GetByRole(AriaRole.Button, new() { Name = "한국어로 보기" }).ClickAsync();
        await Expect(page.Locator("#position")).ToHaveTextAsync("6번째");
        await Screenshot(page, "waiting-room");
        await page.GetByRole(AriaRole.Button, new() { Name = "Switch to English" }).ClickAsync();
        await Expect(page.Locator("#position")).ToHaveTextAsync("6");

        await page.EvaluateAsync("() => { window.stillTheSamePage = true; }");
        await Api.UpdateQueue(admin, eventId, admissionsPerMinute: 60, paused: false);

        // One a second: the page shows the line shortening, then the turn.
        await Expect(page.Locator("#position")).ToHaveTextAsync(new Regex("^[1-5]$"));
        await Expect(page.Locator("#notice")).ToBeHiddenAsync();
        Assert.True(int.Parse(await page.GetByRole(AriaRole.Progressbar).GetAttributeAsync("aria-valuenow") ?? "0", System.Globalization.CultureInfo.InvariantCulture) > 0);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "It's your turn!" })).ToBeVisibleAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => window.stillTheSamePage === true"), "the page was reloaded");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Choose your seats" })).ToBeFocusedAsync();
    }

    [Fact]
    public async Task Closing_the_tab_or_signing_in_on_another_device_keeps_the_place()
    {
        var (_, eventId) = await PausedLine(ahead: 3);
        var fan = await Api.Register();
        var first = await NewPage(Screen.Phone);
        await Pages.SignIn(first, fan, $"/queue/{eventId}");
        await Expect(first.Locator("#ticket-number")).ToHaveTextAsync("Your number #4");
        var context = first.Context;
        await first.CloseAsync();

        // The same browser, a new tab.
        var again = await context.NewPageAsync();
        await again.GotoAsync($"/queue/{eventId}");
        await Expect(again.Locator("#ticket-number")).ToHaveTextAsync("Your number #4");
        await Expect(again.Locator("#position")).ToHaveTextAsync("4");

        // Another device: nothing shared with the first browser but the account.
        var phone = await NewPage(Screen.Desktop);
        await Pages.SignIn(phone, fan, $"/queue/{eventId}");
        await Expect(phone.Locator("#ticket-number")).ToHaveTextAsync("Your number #4");

        var me = await Api.QueueMe(fan.AccessToken, eventId);
        Assert.Equal(4, me["ticketNumber"]!.GetValue<long>());
        Assert.Equal(4, (await Api.Stats(await Api.AdminLogin(), eventId))["issued"]!.GetValue<long>());
    }

    [Fact]
    public async Task When_the_live_connection_drops_the_page_reconnects_and_follows_again()
    {
        var (admin, eventId) = await PausedLine(ahead: 3);
        var page = await NewPage(Screen.Phone);
        var sockets = await QueueSockets.Watch(page);
        await Pages.SignIn(page, await Api.Register(), $"/queue/{eventId}");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");
        await Expect(page.Locator("#position")).ToHaveTextAsync("4");

        // The network drops the connection.
        var dropped = sockets.Single();

        await dropped.CloseAsync(new() { Code = 4000, Reason = "network dropped" });
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "reconnecting");
        await Expect(page.Locator("#connection")).ToHaveTextAsync(new Regex("reconnecting"));
        await Screenshot(page, "waiting-room-reconnecting");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");
        Assert.Equal(2, sockets.Count);

        // Cursor moves reach the new connection only if the page followed the event again on it.
        await Api.UpdateQueue(admin, eventId, admissionsPerMinute: 60, paused: false);
        await Expect(page.Locator("#position")).ToHaveTextAsync(new Regex("^[1-3]$"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "It's your turn!" })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task When_the_word_of_the_turn_never_arrives_the_page_asks_and_shows_the_turn()
    {
        var (admin, eventId) = await PausedLine(ahead: 1);
        var page = await NewPage(Screen.Phone);
        // Every personal "admitted" message is lost on the way; cursor moves get through.
        var lost = 0;
        await QueueSockets.Watch(page, lostOnTheWay: message =>
        {
            var admission = message.Contains("\"target\":\"admitted\"", StringComparison.OrdinalIgnoreCase);
            if (admission)
            {
                Interlocked.Increment(ref lost);
            }

            return admission;
        });
        await Pages.SignIn(page, await Api.Register(), $"/queue/{eventId}");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");
        await Expect(page.Locator("#position")).ToHaveTextAsync("2");

        await Api.UpdateQueue(admin, eventId, admissionsPerMinute: 60, paused: false);

        // Before, the page showed its place as next for good: live, so it never polled, and nothing else
        // would tell it. Now it asks once the line has passed it and no word came.
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "It's your turn!" })).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Choose your seats" })).ToBeVisibleAsync();
        Assert.True(Volatile.Read(ref lost) >= 1, "no admission message was sent to lose");
    }

    [Fact]
    public async Task A_follow_the_gateway_fails_once_is_tried_again_on_the_open_connection_and_the_page_goes_live()
    {
        var (admin, eventId) = await PausedLine(ahead: 1);
        var page = await NewPage(Screen.Phone);
        // The page's first Follow is answered with an error, as when the gateway could not subscribe.
        var follows = 0;
        await page.RouteWebSocketAsync(new Regex("/hubs/queue"), ws =>
        {
            var server = ws.ConnectToServer();
            ws.OnMessage(frame =>
            {
                var forward = new List<string>();
                foreach (var message in (frame.Text ?? "").Split('\u001e', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (message.Contains("\"target\":\"Follow\"", StringComparison.Ordinal) && Interlocked.Increment(ref follows) == 1)
                    {
                        var invocation = JsonNode.Parse(message)!["invocationId"]!.GetValue<string>();
                        ws.Send($"{{\"type\":3,\"invocationId\":\"{invocation}\",\"error\":\"An unexpected error occurred invoking 'Follow' on the server.\"}}\u001e");
                    }
                    else
                    {
                        forward.Add(message);
                    }
                }

                if (forward.Count > 0)
                {
                    server.Send(string.Concat(forward.Select(message => message + '\u001e')));
                }
            });
        });

        await Pages.SignIn(page, await Api.Register(), $"/queue/{eventId}");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "polling");

        // Before, the page polled for good on a connection that worked.
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live", new() { Timeout = 30_000 });
        Assert.Equal(2, Volatile.Read(ref follows));
        await Api.UpdateQueue(admin, eventId, admissionsPerMinute: 60, paused: false);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "It's your turn!" })).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Where_WebSockets_are_blocked_the_page_polls_its_place_instead()
    {
        var (admin, eventId) = await PausedLine(ahead: 2);
        var page = await NewPage(Screen.Phone);
        // A proxy that refuses every WebSocket.
        await page.RouteWebSocketAsync(new Regex("/hubs/queue"), ws => ws.CloseAsync(new() { Code = 4403, Reason = "blocked" }));
        var polls = 0;
        page.Request += (_, request) =>
        {
            if (request.Method == "GET" && request.Url.EndsWith($"/api/events/{eventId}/queue/me", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref polls);
            }
        };

        await Pages.SignIn(page, await Api.Register(), $"/queue/{eventId}");
        await Expect(page.Locator("#position")).ToHaveTextAsync("3");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "polling");
        await Expect(page.Locator("#connection")).ToHaveTextAsync("Live updates are unavailable; checking every few seconds.");

        // One admission every 10 s: each place in line lasts longer than the 5-7 s between two polls, so a
        // poll must see the line move before the page is admitted (at 60 a minute it could miss both moves).
        await Api.UpdateQueue(admin, eventId, admissionsPerMinute: 6, paused: false);
        await Expect(page.Locator("#position")).ToHaveTextAsync(new Regex("^[12]$"));
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "It's your turn!" })).ToBeVisibleAsync();
        Assert.True(Volatile.Read(ref polls) >= 2, $"the page asked queue/me {polls} times");
    }

    [Fact]
    public async Task Before_sales_open_the_page_waits_in_the_pre_queue_then_shows_the_drawn_number_live()
    {
        // The slow parts first (registering, signing in through the form): only the waiting page itself has
        // to be up within the time before sales open.
        var admin = await Api.AdminLogin();
        var page = await NewPage(Screen.Phone);
        await Pages.SignIn(page, await Api.Register());
        var eventId = await Api.CreateEvent(admin, new NewEvent { SalesOpenAt = DateTimeOffset.UtcNow.AddSeconds(8) });
        await Api.UpdateQueue(admin, eventId, paused: true);
        await page.GotoAsync($"/queue/{eventId}");

        await Expect(page.Locator("#notice")).ToContainTextAsync("Sales have not opened yet");
        await Expect(page.Locator("#position")).ToHaveTextAsync("—");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");
        await page.EvaluateAsync("() => { window.stillTheSamePage = true; }");

        // At opening the draw gives the one fan in the pre-queue ticket 1, pushed to the page.
        await Expect(page.Locator("#ticket-number")).ToHaveTextAsync("Your number #1");
        await Expect(page.Locator("[aria-live=polite]")).ToHaveTextAsync("Your number has been drawn: 1");
        await Api.UpdateQueue(admin, eventId, paused: false);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "It's your turn!" })).ToBeVisibleAsync();
        Assert.True(await page.EvaluateAsync<bool>("() => window.stillTheSamePage === true"), "the page was reloaded");
        Assert.Equal("admitted", (await Api.QueueMe((await page.EvaluateAsync<string>("() => JSON.parse(localStorage.getItem('tq.auth')).accessToken")), eventId))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_busy_answer_to_the_join_is_retried_by_the_page_itself()
    {
        var (_, eventId) = await PausedLine(ahead: 1);
        var page = await NewPage(Screen.Phone);
        // The opening surge: the first join is answered "busy, retry in a second", as the gateway does.
        var joins = await FirstJoinRefusedAsBusy(page, eventId, retryAfterSeconds: 1);

        await Pages.SignIn(page, await Api.Register(), $"/queue/{eventId}");

        // Before, the page said "retrying by itself" and then did nothing.
        await Expect(page.Locator("#join-retrying")).ToHaveTextAsync("The service is busy for a moment; retrying by itself.");
        await Expect(page.Locator("#position")).ToHaveTextAsync("2");
        Assert.Equal(2, joins());
    }

    [Fact]
    public async Task A_place_left_on_another_device_is_not_taken_again_when_the_page_reconnects()
    {
        var (_, eventId) = await PausedLine(ahead: 2);
        var fan = await Api.Register();
        var page = await NewPage(Screen.Phone);
        var sockets = await QueueSockets.Watch(page);
        await Pages.SignIn(page, fan, $"/queue/{eventId}");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");

        // "Leave" on the phone, then the laptop's connection drops and comes back.
        await Api.Send(HttpMethod.Delete, $"/api/events/{eventId}/queue/me", fan.AccessToken, null, HttpStatusCode.NoContent);
        var first = sockets.Single();

        await first.CloseAsync(new() { Code = 4000, Reason = "network dropped" });

        // Before, the page joined again at the back of the line on the visitor's behalf.
        await Expect(page.GetByRole(AriaRole.Heading, new() { Name = "You are not in this queue; you may have left it on another device." })).ToBeVisibleAsync();
        await Api.Send(HttpMethod.Get, $"/api/events/{eventId}/queue/me", fan.AccessToken, null, HttpStatusCode.NotFound);
        // No new number was issued for the fan (two ahead, and the fan's own first one).
        Assert.Equal(3, (await Api.Stats(await Api.AdminLogin(), eventId))["issued"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_token_refresh_the_service_cannot_answer_keeps_the_visitor_signed_in()
    {
        var (_, eventId) = await PausedLine(ahead: 1);
        var page = await NewPage(Screen.Phone);
        var sockets = await QueueSockets.Watch(page);
        var refreshes = 0;
        await page.RouteAsync("**/api/auth/refresh", async route =>
        {
            Interlocked.Increment(ref refreshes);
            await route.FulfillAsync(new() { Status = 503, ContentType = "application/problem+json", Body = """{"status":503,"code":"unavailable"}""" });
        });
        await Pages.SignIn(page, await Api.Register(), $"/queue/{eventId}");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");

        // The page believes its access token is about to run out (it is not, on the server), so the
        // reconnect asks for a new one, and the service is busy.
        await page.EvaluateAsync("() => { const s = JSON.parse(localStorage.getItem('tq.auth')); s.receivedAt = 0; localStorage.setItem('tq.auth', JSON.stringify(s)); }");
        var first = sockets.Single();

        await first.CloseAsync(new() { Code = 4000, Reason = "network dropped" });

        // Before, any failed refresh signed out: the reconnects then failed for good with no token.
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "reconnecting");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");
        Assert.Equal(2, sockets.Count);

        Assert.True(Volatile.Read(ref refreshes) >= 1, "the page never tried to refresh");
        Assert.True(await page.EvaluateAsync<bool>("() => localStorage.getItem('tq.auth') !== null"), "the session was thrown away");
    }

    [Fact]
    public async Task Leaving_the_waiting_room_while_its_join_is_retried_stops_the_retries()
    {
        var (_, eventId) = await PausedLine(ahead: 0);
        var page = await NewPage(Screen.Phone);
        var joins = await AnswerJoins(page, eventId, (route, _) => RefuseAsBusy(route, retryAfterSeconds: 1));
        await Pages.SignIn(page, await Api.Register(), $"/queue/{eventId}");
        await Expect(page.Locator("#join-retrying")).ToBeVisibleAsync();

        // The visitor goes to the event list inside the app (no reload).
        await NavigateInApp(page, "/events");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Events");
        var afterLeaving = joins();
        await Task.Delay(TimeSpan.FromSeconds(4), TestContext.Current.CancellationToken);

        // Before, the join went on being retried for good and wrote "retrying" over the new page.
        Assert.InRange(joins() - afterLeaving, 0, 1);
        await Expect(page.Locator("#join-retrying")).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Events");
    }

    [Fact]
    public async Task A_waiting_page_left_and_opened_again_while_its_join_was_retried_is_the_live_one()
    {
        var (admin, eventId) = await PausedLine(ahead: 0);
        var page = await NewPage(Screen.Phone);
        // The first join is refused as busy: that page waits 2 s, then tries again (and gets in).
        var joins = await FirstJoinRefusedAsBusy(page, eventId, retryAfterSeconds: 2);
        await Pages.SignIn(page, await Api.Register(), $"/queue/{eventId}");
        await Expect(page.Locator("#join-retrying")).ToBeVisibleAsync();

        // Away and back to the same waiting room inside the app, while the first copy still waits to retry.
        await NavigateInApp(page, "/events");
        await Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Events");
        await NavigateInApp(page, $"/queue/{eventId}");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");
        await Eventually(() => joins() >= 3);
        await Task.Delay(500, TestContext.Current.CancellationToken);

        // Before, the first copy's late join drew its page over the live one, and was then stopped: the
        // visitor watched a page that never moved again and missed the turn.
        await Api.UpdateQueue(admin, eventId, paused: false);
        await Expect(page.Locator("#admitted")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task Joining_again_after_the_session_ended_says_why_it_was_refused_and_can_be_tried_again()
    {
        var (_, eventId) = await PausedLine(ahead: 0);
        var page = await NewPage(Screen.Phone);
        var joins = await AnswerJoins(page, eventId, async (route, join) =>
        {
            switch (join)
            {
                case 1:
                    // The place as the service answers it once the shopping session is over.
                    var answer = await route.FetchAsync();
                    var place = JsonNode.Parse(await answer.TextAsync())!;
                    place["status"] = "expired";
                    await route.FulfillAsync(new() { Response = answer, Body = place.ToJsonString() });
                    break;
                case 2:
                    await route.FulfillAsync(new()
                    {
                        Status = 409,
                        ContentType = "application/problem+json",
                        Body = """{"status":409,"code":"sales-closed","detail":"Sales for this event are closed."}""",
                    });
                    break;
                default:
                    await route.ContinueAsync();
                    break;
            }
        });
        await Pages.SignIn(page, await Api.Register(), $"/queue/{eventId}");
        var rejoin = page.GetByRole(AriaRole.Button, new() { Name = "Join the queue again" });
        await Expect(rejoin).ToBeVisibleAsync();

        // Before, a refused rejoin failed silently: the button did nothing, and nothing said why.
        await rejoin.ClickAsync();
        await Expect(page.Locator("#rejoin-error")).ToHaveTextAsync("The event has started; sales are closed.");
        await Expect(rejoin).ToBeEnabledAsync();

        await rejoin.ClickAsync();
        await Expect(page.Locator("#position")).ToBeVisibleAsync();
        await Expect(page.Locator("#admitted")).ToBeHiddenAsync();
        Assert.Equal(3, joins());
    }

    /// <summary>The event's first join is answered as busy, the others go through; returns how many were sent.</summary>
    private static Task<Func<int>> FirstJoinRefusedAsBusy(IPage page, string eventId, int retryAfterSeconds) =>
        AnswerJoins(page, eventId, (route, join) => join == 1 ? RefuseAsBusy(route, retryAfterSeconds) : route.ContinueAsync());

    /// <summary>Answers the event's joins (POSTs) with <paramref name="answer"/>, given each one's number from 1; returns how many were sent.</summary>
    private static async Task<Func<int>> AnswerJoins(IPage page, string eventId, Func<IRoute, int, Task> answer)
    {
        var joins = 0;
        await page.RouteAsync($"**/api/events/{eventId}/queue", async route =>
        {
            if (route.Request.Method != "POST")
            {
                await route.ContinueAsync();
                return;
            }

            await answer(route, Interlocked.Increment(ref joins));
        });
        return () => Volatile.Read(ref joins);
    }

    /// <summary>Moves to another page inside the app, as its links do: no reload.</summary>
    private static Task NavigateInApp(IPage page, string path) =>
        page.EvaluateAsync($"() => {{ history.pushState(null, '', '{path}'); dispatchEvent(new PopStateEvent('popstate')); }}");

    /// <summary>Answers as a gateway too busy to take the request: 503, a problem, and when to try again.</summary>
    private static Task RefuseAsBusy(IRoute route, int retryAfterSeconds) => route.FulfillAsync(new()
    {
        Status = 503,
        ContentType = "application/problem+json",
        Headers = new Dictionary<string, string> { ["Retry-After"] = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        Body = """{"type":"about:blank","title":"Service Unavailable","status":503,"code":"unavailable"}""",
    });

    private static async Task Eventually(Func<bool> condition)
    {
        for (var i = 0; i < 100 && !condition(); i++)
        {
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        Assert.True(condition(), "the condition never held");
    }

    [Fact]
    public async Task A_waiting_page_whose_visitor_signed_out_elsewhere_asks_to_sign_in_instead_of_polling_for_good()
    {
        var (_, eventId) = await PausedLine(ahead: 1);
        var page = await NewPage(Screen.Phone);
        var sockets = await QueueSockets.Watch(page);
        await Pages.SignIn(page, await Api.Register(), $"/queue/{eventId}");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");

        // Logged out in another tab (the session is shared), then the connection drops.
        await page.EvaluateAsync("() => localStorage.removeItem('tq.auth')");
        await sockets.Single().CloseAsync(new() { Code = 4000, Reason = "network dropped" });

        // Before, every look at the place was refused and the page asked again every few seconds, for good,
        // beside a position that no longer moved.
        await Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"/login\\?next=%2Fqueue%2F{eventId}$"), new() { Timeout = 20_000 });
        var looks = 0;
        page.Request += (_, request) =>
        {
            if (request.Url.EndsWith($"/api/events/{eventId}/queue/me", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref looks);
            }
        };
        await Task.Delay(TimeSpan.FromSeconds(8), TestContext.Current.CancellationToken);
        Assert.Equal(0, Volatile.Read(ref looks));
    }

    [Fact]
    public async Task A_waiting_page_hears_when_the_event_starts_and_says_sales_closed()
    {
        // The slow parts first (registering, signing in through the form): only the join and the waiting page
        // have to be done within the time before the start.
        var admin = await Api.AdminLogin();
        var ahead = await Api.Register();
        var page = await NewPage(Screen.Phone);
        await Pages.SignIn(page, await Api.Register());
        var startsAt = DateTimeOffset.UtcNow.AddSeconds(6);
        var eventId = await Api.CreateEvent(admin, new NewEvent { StartsAt = startsAt });
        await Api.UpdateQueue(admin, eventId, paused: true);
        await Api.JoinQueue(ahead.AccessToken, eventId);
        await page.GotoAsync($"/queue/{eventId}");
        await Expect(page.Locator("#position")).ToHaveTextAsync("2");
        await Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-mode", "live");

        // Before, the line just stopped and the page kept showing it, for good.
        await Expect(page.Locator("#sales-closed")).ToHaveTextAsync("The event has started and sales are closed: nobody more is let in.");
        Assert.True(DateTimeOffset.UtcNow >= startsAt, "the page said sales closed before the start");
    }
}
