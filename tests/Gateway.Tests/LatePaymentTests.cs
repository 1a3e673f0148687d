using Microsoft.Extensions.Time.Testing;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Abstractions.Seats;
using TicketQueue.Gateway.Events;

namespace TicketQueue.Gateway.Tests;

/// <summary>A gateway whose clock (and its grains' clock) moves only when a test moves it.</summary>
/// <remarks>
/// Access tokens are issued on this clock but the JWT handler checks their lifetime against the real one,
/// so the clock starts five minutes behind: tokens issued after the tests moved it are not yet "from the future".
/// </remarks>
public sealed class FakeClockFixture() : GatewayFixture(new GatewayFactory(clock: new FakeTimeProvider(DateTimeOffset.UtcNow.AddMinutes(-5))))
{
    public FakeTimeProvider Clock => Factory.Clock!;

    /// <summary>One queue tick's worth of time, for polls that wait on the queue.</summary>
    public void Tick() => Clock.Advance(GatewayFactory.TickInterval);
}

public sealed class LatePaymentTests(FakeClockFixture fixture) : IClassFixture<FakeClockFixture>
{
    private const int HoldSeconds = 30;

    private TestApi Api => fixture.Api;

    [Fact]
    public async Task A_payment_that_arrives_after_the_hold_expired_is_refunded_and_sells_no_seat()
    {
        var ct = TestContext.Current.CancellationToken;
        var (spec, buyer, reservation) = await Reserve(ct);
        // The buyer pays at the sandbox while the hold is still good...
        var checkout = await buyer.SandboxCheckout(reservation.ReservationId, ct);

        // ...but tells us only after it ran out.
        fixture.Clock.Advance(TimeSpan.FromSeconds(HoldSeconds + 1));
        var late = await buyer.Pay(reservation.ReservationId, new { provider = "sandbox", paymentId = checkout.PaymentId }, ct);
        await late.ShouldBeProblem(409, "reservation-expired");

        var expired = await buyer.Reservation(reservation.ReservationId, ct);
        Assert.Equal(ReservationStatus.Expired, expired.Status);
        Assert.Equal(checkout.PaymentId, expired.Payment?.PaymentId);
        Assert.True(expired.Payment!.Refunded);
        var seats = await buyer.Seats(spec.EventId, spec.BlockId, ct);
        Assert.All(seats, s => Assert.Equal(SeatStatus.Available, s.Status));
    }

    [Fact]
    public async Task Paying_an_expired_reservation_without_a_prior_payment_takes_no_money()
    {
        var ct = TestContext.Current.CancellationToken;
        var (_, buyer, reservation) = await Reserve(ct);

        fixture.Clock.Advance(TimeSpan.FromSeconds(HoldSeconds + 1));
        var late = await buyer.Pay(reservation.ReservationId, new { provider = "sandbox" }, ct);
        await late.ShouldBeProblem(409, "reservation-expired");

        var expired = await buyer.Reservation(reservation.ReservationId, ct);
        Assert.Equal(ReservationStatus.Expired, expired.Status);
        Assert.Null(expired.Payment);
    }

    [Fact]
    public async Task When_the_event_starts_sales_close_but_a_hold_made_before_can_still_be_paid()
    {
        var ct = TestContext.Current.CancellationToken;
        var spec = new EventSpec { HoldSeconds = HoldSeconds, StartsIn = TimeSpan.FromSeconds(20) };
        await Api.CreateEvent(spec, ct);
        var buyer = await Api.Register(ct);
        var admission = await buyer.JoinAndAwaitAdmission(spec.EventId, ct, fixture.Tick);
        var held = await buyer.ReserveOk(spec.EventId, admission, new { blockId = spec.BlockId, quantity = 1 }, ct);
        var late = await Api.Register(ct);

        fixture.Clock.Advance(TimeSpan.FromSeconds(21));

        // Before, the queue admitted and seats sold after the event had begun, for as long as seats lasted.
        await (await late.Http.PostAsync($"/api/events/{spec.EventId}/queue", null, ct)).ShouldBeProblem(409, "sales-closed");
        await (await buyer.Reserve(spec.EventId, admission, new { blockId = spec.BlockId, quantity = 1 }, ct)).ShouldBeProblem(409, "sales-closed");
        var detail = await late.Http.GetFromJsonAsync<EventDetail>($"/api/events/{spec.EventId}", TestApi.Json, ct);
        Assert.False(detail!.OnSale);
        var place = await buyer.Http.GetFromJsonAsync<Queue.QueueResponse>($"/api/events/{spec.EventId}/queue/me", TestApi.Json, ct);
        Assert.True(place!.SalesClosed);
        var paid = await buyer.Pay(held.ReservationId, new { provider = "sandbox" }, ct);
        await paid.ShouldBe(HttpStatusCode.OK);
    }

    private async Task<(EventSpec Spec, TestUser Buyer, Reservations.ReservationResponse Reservation)> Reserve(CancellationToken ct)
    {
        var spec = new EventSpec { HoldSeconds = HoldSeconds, Rows = 1, SeatsPerRow = 10 };
        await Api.CreateEvent(spec, ct);
        var buyer = await Api.Register(ct);
        var admission = await buyer.JoinAndAwaitAdmission(spec.EventId, ct, fixture.Tick);
        var reservation = await buyer.ReserveOk(spec.EventId, admission, new { blockId = spec.BlockId, quantity = 2 }, ct);
        Assert.Equal(ReservationStatus.PendingPayment, reservation.Status);
        Assert.Equal(fixture.Clock.GetUtcNow().AddSeconds(HoldSeconds), reservation.ExpiresAt);
        return (spec, buyer, reservation);
    }
}
