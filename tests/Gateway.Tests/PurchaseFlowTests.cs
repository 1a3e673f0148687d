using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Reservations;
using TicketQueue.Gateway.Events;
using TicketQueue.Grains.Abstractions.Payments;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Abstractions.Seats;

namespace TicketQueue.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class PurchaseFlowTests(GatewayFixture fixture)
{
    private TestApi Api => fixture.Api;

    [Fact]
    public async Task A_buyer_queues_reserves_pays_and_cancels_and_the_seats_come_back()
    {
        var ct = TestContext.Current.CancellationToken;
        // One admission per tick, so the line visibly moves.
        var spec = new EventSpec { AdmissionsPerMinute = 600 };
        await Api.CreateEvent(spec, ct);
        var buyer = await Api.Register(ct);

        var events = await buyer.Http.GetFromJsonAsync<List<EventSummary>>("/api/events", TestApi.Json, ct);
        Assert.Contains(events!, e => e.EventId == spec.EventId && e.OnSale);

        // Three people are ahead while the queue is paused: the buyer's place is known exactly.
        await Api.SetQueue(spec.EventId, new { paused = true }, ct);
        foreach (var ahead in await Api.RegisterMany(3, ct))
        {
            await ahead.Join(spec.EventId, ct);
        }

        var joined = await buyer.Join(spec.EventId, ct);
        Assert.Equal(QueueStatusKind.Waiting, joined.Status);
        Assert.Equal(4, joined.Position);
        Assert.Null(joined.AdmissionToken);
        // The waiting page titles itself from the answer, with no request for the event list.
        Assert.Equal("Test event " + spec.EventId, joined.EventName);
        Assert.Equal(joined.EventName, (await buyer.Me(spec.EventId, ct)).EventName);

        await Api.SetQueue(spec.EventId, new { paused = false }, ct);
        List<long> positions = [];
        var admitted = await Eventually.Until(async () =>
        {
            var me = await buyer.Me(spec.EventId, ct);
            positions.Add(me.Position ?? -1);
            return me;
        }, me => me.Status == QueueStatusKind.Admitted, "admission", ct);

        Assert.Equal(0, admitted.Position);
        Assert.NotNull(admitted.AdmissionToken);
        Assert.True(positions.SequenceEqual(positions.Order().Reverse()), $"the position only falls: {string.Join(", ", positions)}");

        var reservation = await buyer.ReserveOk(spec.EventId, admitted.AdmissionToken, new { blockId = spec.BlockId, quantity = 2 }, ct);
        Assert.Equal(ReservationStatus.PendingPayment, reservation.Status);
        Assert.Equal(2, reservation.Seats.Count);
        Assert.Equal(2 * spec.Price, reservation.Amount);
        Assert.All(await SeatsOf(buyer, spec, reservation, ct), s => Assert.Equal(SeatStatus.Held, s.Status));

        // The reservation keeps the queue's own stamp of the admission it was made in: its purchase ends
        // that session, judged on the queue's clock rather than the reservation silo's.
        var grains = Api.Factory.Services.GetRequiredService<IGrainFactory>();
        var place = (await QueueShards.For(grains, spec.EventId, buyer.UserId).GetStatus(buyer.UserId))!.Place;
        var admission = await grains.GetGrain<IEventQueueGrain>(spec.EventId).Describe(place);
        var stored = new GrainState<ReservationState>();
        await Api.Factory.Services.GetRequiredKeyedService<IGrainStorage>(StorageNames.Reservations)
            .ReadStateAsync("reservation", grains.GetGrain<IReservationGrain>(reservation.ReservationId).GetGrainId(), stored);
        Assert.NotNull(admission.AdmittedAt);
        Assert.Equal(admission.AdmittedAt, stored.State?.AdmittedAt);

        var paid = await buyer.Pay(reservation.ReservationId, new { provider = "sandbox" }, ct);
        await paid.ShouldBe(HttpStatusCode.OK);

        var confirmed = await buyer.Reservation(reservation.ReservationId, ct);
        Assert.Equal(ReservationStatus.Confirmed, confirmed.Status);
        Assert.Equal("sandbox", confirmed.Payment?.Provider);
        Assert.False(confirmed.Payment!.Refunded);
        Assert.All(await SeatsOf(buyer, spec, reservation, ct), s => Assert.Equal(SeatStatus.Sold, s.Status));

        var cancel = await buyer.Http.PostAsync($"/api/reservations/{reservation.ReservationId}/cancel", null, ct);
        await cancel.ShouldBe(HttpStatusCode.OK);

        var cancelled = await buyer.Reservation(reservation.ReservationId, ct);
        Assert.Equal(ReservationStatus.Cancelled, cancelled.Status);
        Assert.True(cancelled.Payment!.Refunded);
        Assert.All(await SeatsOf(buyer, spec, reservation, ct), s => Assert.Equal(SeatStatus.Available, s.Status));
    }

    [Fact]
    public async Task A_payment_made_at_the_sandbox_checkout_confirms_the_reservation()
    {
        var ct = TestContext.Current.CancellationToken;
        var (spec, buyer, reservation) = await PendingReservation(ct);

        var checkout = await buyer.SandboxCheckout(reservation.ReservationId, ct);
        Assert.False(string.IsNullOrEmpty(checkout.PaymentId));
        Assert.Equal(reservation.ReservationId, checkout.ReservationId);
        Assert.Equal(reservation.Amount, checkout.Amount);

        var paid = await buyer.Pay(reservation.ReservationId, new { provider = "sandbox", paymentId = checkout.PaymentId }, ct);
        await paid.ShouldBe(HttpStatusCode.OK);

        var confirmed = await buyer.Reservation(reservation.ReservationId, ct);
        Assert.Equal(ReservationStatus.Confirmed, confirmed.Status);
        Assert.Equal(checkout.PaymentId, confirmed.Payment?.PaymentId);
        Assert.All(await SeatsOf(buyer, spec, reservation, ct), s => Assert.Equal(SeatStatus.Sold, s.Status));
    }

    [Fact]
    public async Task Checking_out_twice_at_the_sandbox_charges_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var (spec, buyer, reservation) = await PendingReservation(ct);

        var first = await buyer.SandboxCheckout(reservation.ReservationId, ct);
        var payment = Api.Factory.Services.GetRequiredService<IGrainFactory>().GetGrain<ISandboxPaymentGrain>(first.PaymentId);
        var approved = await payment.Get();
        var doubleClick = await buyer.SandboxCheckout(reservation.ReservationId, ct);

        // The second checkout found the first payment: the same id, and the record approved once (a
        // second approval would have written a later time).
        Assert.Equal(first.PaymentId, doubleClick.PaymentId);
        Assert.NotNull(approved);
        Assert.Equal(SandboxPaymentStatus.Approved, approved.Status);
        Assert.Equal(approved, await payment.Get());
    }

    [Fact]
    public async Task A_checkout_payment_never_handed_back_is_refunded_when_the_reservation_closes()
    {
        var ct = TestContext.Current.CancellationToken;
        var (_, buyer, reservation) = await PendingReservation(ct);
        // The buyer pays at the sandbox's checkout, then closes the tab: the payment id never comes back.
        var checkout = await buyer.SandboxCheckout(reservation.ReservationId, ct);

        var cancel = await buyer.Http.PostAsync($"/api/reservations/{reservation.ReservationId}/cancel", null, ct);
        await cancel.ShouldBe(HttpStatusCode.OK);

        // Before, the money stayed with the company: nothing on the reservation knew of it.
        var payment = await Api.Factory.Services.GetRequiredService<IGrainFactory>().GetGrain<ISandboxPaymentGrain>(checkout.PaymentId).Get();
        Assert.Equal(SandboxPaymentStatus.Refunded, payment?.Status);
        var closed = await buyer.Reservation(reservation.ReservationId, ct);
        Assert.Equal(ReservationStatus.Cancelled, closed.Status);
        Assert.Equal(checkout.PaymentId, closed.Payment?.PaymentId);
        Assert.True(closed.Payment?.Refunded);
    }

    [Fact]
    public async Task Paying_without_the_checkout_payment_id_uses_the_checkout_payment_and_charges_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var (_, buyer, reservation) = await PendingReservation(ct);
        var checkout = await buyer.SandboxCheckout(reservation.ReservationId, ct);

        // The page lost the payment id (a reload) and pays again with none.
        var paid = await buyer.Pay(reservation.ReservationId, new { provider = "sandbox" }, ct);
        await paid.ShouldBe(HttpStatusCode.OK);

        // Before, the sandbox charged a second time, and the checkout's payment stayed taken for good.
        var confirmed = await buyer.Reservation(reservation.ReservationId, ct);
        Assert.Equal(ReservationStatus.Confirmed, confirmed.Status);
        Assert.Equal(checkout.PaymentId, confirmed.Payment?.PaymentId);
        var grains = Api.Factory.Services.GetRequiredService<IGrainFactory>();
        Assert.Null(await grains.GetGrain<ISandboxPaymentGrain>($"sbx_{reservation.ReservationId:N}").Get());
    }

    [Fact]
    public async Task A_cancelled_reservation_cannot_be_checked_out()
    {
        var ct = TestContext.Current.CancellationToken;
        var (spec, buyer, reservation) = await PendingReservation(ct);
        await (await buyer.Http.PostAsync($"/api/reservations/{reservation.ReservationId}/cancel", null, ct)).ShouldBe(HttpStatusCode.OK);

        var checkout = await buyer.Http.PostAsJsonAsync("/api/payments/sandbox/checkout", new { reservationId = reservation.ReservationId }, TestApi.Json, ct);
        await checkout.ShouldBeProblem(409, "reservation-cancelled");
    }

    [Fact]
    public async Task A_free_ticket_has_nothing_to_check_out_and_is_confirmed_without_a_payment()
    {
        var ct = TestContext.Current.CancellationToken;
        var (_, buyer, reservation) = await PendingReservation(ct, price: 0m);
        Assert.Equal(0m, reservation.Amount);

        // Before, the sandbox refused a zero payment as 'amount-out-of-range', naming a field the request does not have.
        var checkout = await buyer.Http.PostAsJsonAsync("/api/payments/sandbox/checkout", new { reservationId = reservation.ReservationId }, TestApi.Json, ct);
        await checkout.ShouldBeProblem(409, "nothing-to-pay");

        var confirmed = await buyer.Pay(reservation.ReservationId, new { provider = "sandbox" }, ct);
        await confirmed.ShouldBe(HttpStatusCode.OK);
        Assert.Equal(ReservationStatus.Confirmed, (await buyer.Reservation(reservation.ReservationId, ct)).Status);
    }

    /// <summary>A new event and buyer, admitted, holding one seat that awaits payment.</summary>
    private async Task<(EventSpec Spec, TestUser Buyer, Reservations.ReservationResponse Reservation)> PendingReservation(CancellationToken ct, decimal price = 50_000m)
    {
        var spec = new EventSpec { Price = price };
        await Api.CreateEvent(spec, ct);
        var buyer = await Api.Register(ct);
        var admission = await buyer.JoinAndAwaitAdmission(spec.EventId, ct);
        return (spec, buyer, await buyer.ReserveOk(spec.EventId, admission, new { blockId = spec.BlockId, quantity = 1 }, ct));
    }

    private static async Task<List<SeatView>> SeatsOf(TestUser user, EventSpec spec, Reservations.ReservationResponse reservation, CancellationToken ct)
    {
        var seats = await user.Seats(spec.EventId, spec.BlockId, ct);
        List<SeatView> reserved = [.. seats.Where(s => reservation.Seats.Contains(s.SeatId))];
        Assert.Equal(reservation.Seats.Count, reserved.Count);
        return reserved;
    }
}
