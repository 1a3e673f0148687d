using TicketQueue.Gateway.Events;
using TicketQueue.Gateway.Reservations;
using TicketQueue.Grains.Abstractions.Seats;

namespace TicketQueue.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class ReservationRulesTests(GatewayFixture fixture)
{
    private TestApi Api => fixture.Api;

    [Fact]
    public async Task A_second_reservation_over_the_per_user_ticket_limit_is_409()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec { TicketLimitPerUser = 4 };
        await Api.CreateEvent(spec, ct);
        var buyer = await Api.Register(ct);
        var admission = await buyer.JoinAndAwaitAdmission(spec.EventId, ct);

        await buyer.ReserveOk(spec.EventId, admission, new { blockId = spec.BlockId, quantity = 3 }, ct);
        var second = await buyer.Reserve(spec.EventId, admission, new { blockId = spec.BlockId, quantity = 2 }, ct);
        await second.ShouldBeProblem(409, "ticket-limit-exceeded", "quantity");

        // Explicit seats count against the same limit.
        var seats = await buyer.Reserve(spec.EventId, admission, new { blockId = spec.BlockId, seatIds = new[] { "E-1", "E-2" } }, ct);
        await seats.ShouldBeProblem(409, "ticket-limit-exceeded", "seatIds");

        // Up to the limit is fine.
        await buyer.ReserveOk(spec.EventId, admission, new { blockId = spec.BlockId, quantity = 1 }, ct);
    }

    [Fact]
    public async Task A_seat_someone_else_holds_is_409_naming_the_seats()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec();
        await Api.CreateEvent(spec, ct);
        var first = await Api.Register(ct);
        var second = await Api.Register(ct);
        var firstAdmission = await first.JoinAndAwaitAdmission(spec.EventId, ct);
        var secondAdmission = await second.JoinAndAwaitAdmission(spec.EventId, ct);
        await first.ReserveOk(spec.EventId, firstAdmission, new { blockId = spec.BlockId, seatIds = new[] { "A-1", "A-2" } }, ct);

        // The seat block's refusal comes back as an answer, not an exception; the problem is the same.
        var taken = await second.Reserve(spec.EventId, secondAdmission, new { blockId = spec.BlockId, seatIds = new[] { "A-2", "A-3" } }, ct);

        var problem = await taken.ShouldBeProblem(409, "seats-unavailable", "seatIds");
        Assert.Contains("A-2", problem.GetProperty("detail").GetString());
        Assert.Equal("https://ticketqueue.dev/problems/seats-unavailable", problem.GetProperty("type").GetString());
        // Nothing was held for the refused buyer: A-3 is still free to take.
        await second.ReserveOk(spec.EventId, secondAdmission, new { blockId = spec.BlockId, seatIds = new[] { "A-3" } }, ct);
    }

    [Fact]
    public async Task Replaying_an_Idempotency_Key_returns_the_same_reservation()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec();
        await Api.CreateEvent(spec, ct);
        var buyer = await Api.Register(ct);
        var admission = await buyer.JoinAndAwaitAdmission(spec.EventId, ct);
        var key = Guid.NewGuid().ToString();
        var body = new { blockId = spec.BlockId, quantity = 2 };

        var first = await buyer.Reserve(spec.EventId, admission, body, ct, key);
        await first.ShouldBe(HttpStatusCode.Created);
        var replay = await buyer.Reserve(spec.EventId, admission, body, ct, key);
        await replay.ShouldBe(HttpStatusCode.Created);

        var original = (await first.Content.ReadFromJsonAsync<ReservationResponse>(TestApi.Json, ct))!;
        var replayed = (await replay.Content.ReadFromJsonAsync<ReservationResponse>(TestApi.Json, ct))!;
        Assert.Equal(original.ReservationId, replayed.ReservationId);
        Assert.Equal(original.Seats, replayed.Seats);
        var mine = await buyer.Http.GetFromJsonAsync<List<ReservationResponse>>("/api/reservations", TestApi.Json, ct);
        Assert.Single(mine!);
        Assert.Equal(2, (await buyer.Seats(spec.EventId, spec.BlockId, ct)).Count(s => s.Status == SeatStatus.Held));

        var different = await buyer.Reserve(spec.EventId, admission, new { blockId = spec.BlockId, quantity = 1 }, ct, key);
        await different.ShouldBeProblem(409, "idempotency-key-reused", ReservationsApi.IdempotencyHeader);
    }

    [Fact]
    public async Task An_admission_token_stops_working_once_its_holder_leaves_the_queue()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec();
        await Api.CreateEvent(spec, ct);
        var buyer = await Api.Register(ct);
        var admission = await buyer.JoinAndAwaitAdmission(spec.EventId, ct);

        // Leaving frees the shopper's slot for the next in line, so the admission goes with it...
        await (await buyer.Http.DeleteAsync($"/api/events/{spec.EventId}/queue/me", ct)).ShouldBe(HttpStatusCode.NoContent);
        var afterLeaving = await buyer.Reserve(spec.EventId, admission, new { blockId = spec.BlockId, quantity = 1 }, ct);
        await afterLeaving.ShouldBeProblem(403, "admission-revoked", ReservationsApi.AdmissionHeader);

        // ...and joining again starts a new place at the back; the old token does not skip the line.
        // (Paused, so the new place cannot be admitted before the old token is tried.)
        await Api.SetQueue(spec.EventId, new { paused = true }, ct);
        await buyer.Join(spec.EventId, ct);
        var afterRejoining = await buyer.Reserve(spec.EventId, admission, new { blockId = spec.BlockId, quantity = 1 }, ct);
        await afterRejoining.ShouldBeProblem(403, "admission-revoked", ReservationsApi.AdmissionHeader);
    }

    [Fact]
    public async Task Five_hundred_buyers_racing_for_fifty_seats_get_exactly_fifty_reservations()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec { Rows = 5, SeatsPerRow = 10 };
        await Api.CreateEvent(spec, ct);
        var buyers = await Api.RegisterMany(500, ct);
        var admissions = new string[buyers.Length];
        await Parallel.ForAsync(0, buyers.Length, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct },
            async (i, token) => admissions[i] = await buyers[i].JoinAndAwaitAdmission(spec.EventId, token));

        // Everyone fires at once.
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = buyers.Select(async (buyer, i) =>
        {
            await go.Task;
            return await buyer.Reserve(spec.EventId, admissions[i], new { blockId = spec.BlockId, quantity = 1 }, ct);
        }).ToList();
        go.SetResult();
        var responses = await Task.WhenAll(attempts);

        var won = responses.Where(r => r.StatusCode == HttpStatusCode.Created).ToList();
        var lost = responses.Where(r => r.StatusCode == HttpStatusCode.Conflict).ToList();
        Assert.Equal(50, won.Count);
        Assert.Equal(450, lost.Count);
        foreach (var response in lost)
        {
            await response.ShouldBeProblem(409, "not-enough-seats", "quantity");
        }

        var reservations = await Task.WhenAll(won.Select(r => r.Content.ReadFromJsonAsync<ReservationResponse>(TestApi.Json, ct)));
        var seatsSold = reservations.SelectMany(r => r!.Seats).ToList();
        Assert.Equal(50, seatsSold.Distinct().Count());
        Assert.All(await buyers[0].Seats(spec.EventId, spec.BlockId, ct), s => Assert.Equal(SeatStatus.Held, s.Status));
    }
}

[Collection(GatewayCollection.Name)]
public sealed class ShoppingSessionTests(GatewayFixture fixture)
{
    private TestApi Api => fixture.Api;

    [Fact]
    public async Task After_a_completed_purchase_the_same_admission_token_buys_nothing_more()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec { TicketLimitPerUser = 4 };
        await Api.CreateEvent(spec, ct);
        var buyer = await Api.Register(ct);
        var admission = await buyer.JoinAndAwaitAdmission(spec.EventId, ct);
        var first = await buyer.ReserveOk(spec.EventId, admission, new { blockId = spec.BlockId, quantity = 1 }, ct);
        await (await buyer.Pay(first.ReservationId, new { provider = "sandbox" }, ct)).ShouldBe(HttpStatusCode.OK);

        var second = await buyer.Reserve(spec.EventId, admission, new { blockId = spec.BlockId, quantity = 1 }, ct);

        await second.ShouldBeProblem(403, "admission-expired", ReservationsApi.AdmissionHeader);
        Assert.Equal(1, (await buyer.Seats(spec.EventId, spec.BlockId, ct)).Count(s => s.Status != SeatStatus.Available));
    }

    [Fact]
    public async Task The_event_detail_shows_the_queue_settings_an_admin_just_set()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec();
        await Api.CreateEvent(spec, ct);

        await Api.SetQueue(spec.EventId, new { admissionsPerMinute = 7, maxActiveShoppers = 3 }, ct);

        var detail = await Api.Anonymous().GetFromJsonAsync<EventDetail>($"/api/events/{spec.EventId}", TestApi.Json, ct);
        Assert.Equal(7, detail!.Queue.AdmissionsPerMinute);
        Assert.Equal(3, detail.Queue.MaxActiveShoppers);
    }
}
