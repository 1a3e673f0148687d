using Microsoft.Extensions.DependencyInjection;
using Orleans.Core.Internal;
using Orleans.Storage;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Payments;
using TicketQueue.Grains.Reservations;
using TicketQueue.Grains.Abstractions.DomainEvents;
using TicketQueue.Grains.Abstractions.Payments;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Abstractions.Seats;

namespace TicketQueue.Grains.Tests.Reservations;

[Collection(ClusterCollection.Name)]
public sealed class ReservationTests(ClusterFixture fixture)
{
    private static readonly TimeSpan HoldDuration = TimeSpan.FromMinutes(5);

    private Task<EventDefinition> NewEvent(int ticketLimitPerUser = 4) =>
        fixture.CreateEvent(TestEvents.Settings(holdDuration: HoldDuration), ticketLimitPerUser: ticketLimitPerUser);

    private IUserReservationsGrain User(Guid userId) => fixture.Grains.GetGrain<IUserReservationsGrain>(userId);

    private IReservationGrain Reservation(Guid reservationId) => fixture.Grains.GetGrain<IReservationGrain>(reservationId);

    private ISeatBlockGrain Block(EventDefinition definition) => Block(definition.EventId);

    private ISeatBlockGrain Block(string eventId) => SeatBlocks.For(fixture.Grains, eventId, TestEvents.BlockId);

    // The reservation grain's writes for this user fail, as they would with its database away (or, after
    // writing, with the answer lost).
    private IDisposable FailReservationWritesOf(Guid userId, bool afterWriting = false) => fixture.StorageFaults.FailWrites((stateName, _, state) =>
        stateName == "reservation" && state is ReservationState { View.UserId: var owner } && owner == userId, afterWriting);

    // One seat held by a new buyer in a new event.
    private async Task<(Guid UserId, ReservationView Created)> OneSeatHeld()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        return (userId, await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null).Reserved());
    }

    // The buyer pays the reservation's amount at the sandbox company's checkout page.
    private async Task<ISandboxPaymentGrain> PaidAtTheCheckout(ReservationView reservation)
    {
        var checkout = fixture.Grains.GetGrain<ISandboxPaymentGrain>(SandboxCheckout.PaymentIdFor(reservation.ReservationId));
        await checkout.Approve(reservation.ReservationId.ToString(), reservation.Amount, reservation.Currency);
        return checkout;
    }

    // The first wake-up after the checkout grace (as after a crash: a fresh activation), and what it left.
    private async Task<ReservationView?> WakeUpAfterTheCheckoutGrace(Guid reservationId)
    {
        fixture.Clock.Advance(ReservationGrain.CheckoutGrace + TimeSpan.FromSeconds(1));
        await fixture.Cluster.DeactivateAsync(Reservation(reservationId));
        return await Reservation(reservationId).Get();
    }

    // Pays with the sandbox, which takes the money; then the reservation's write of the payment fails.
    private async Task CapturedButNotRecorded(Guid userId, Guid reservationId)
    {
        using (fixture.StorageFaults.FailWrites((stateName, _, state) =>
            stateName == "reservation" && state is ReservationState { View: { Payment: not null } view } && view.UserId == userId))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => Reservation(reservationId).Pay(new PaymentCommand(userId, "sandbox", null)));
        }
    }

    // Whether the reservation's watch reminder stands.
    private async Task<bool> Watched(Guid reservationId) =>
        await fixture.Cluster.Silos[0].ServiceProvider.GetRequiredService<IReminderTable>()
            .ReadRow(Reservation(reservationId).GetGrainId(), "reservation-watch", TestContext.Current.CancellationToken) is not null;

    // The reservation's watch reminder fires.
    private Task FireWatch(Guid reservationId) =>
        Reservation(reservationId).Cast<IRemindable>().ReceiveReminder("reservation-watch",
            new TickStatus(DateTime.UtcNow, TimeSpan.FromMinutes(1), DateTime.UtcNow), TestContext.Current.CancellationToken);

    // The silo hosting the user's grain dies: the next call finds a fresh activation with the saved state.
    private Task CrashUserGrain(Guid userId) =>
        User(userId).Cast<IGrainManagementExtension>().DeactivateOnIdle(TestContext.Current.CancellationToken).AsTask();

    private async Task<Dictionary<string, SeatStatus>> SeatStatuses(EventDefinition definition) =>
        (await Block(definition).GetSeats()).ToDictionary(s => s.SeatId, s => s.Status);

    // Records compare their seat lists by reference; a copy from another call is a different list.
    private static void AssertSameView(ReservationView expected, ReservationView? actual)
    {
        Assert.NotNull(actual);
        Assert.Equal(expected.Seats, actual.Seats);
        Assert.Equal(expected with { Seats = [] }, actual with { Seats = [] });
    }

    [Fact]
    public async Task Reserve_creates_a_pending_reservation_priced_by_the_server()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        var now = fixture.Clock.GetUtcNow();

        var view = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, ["A-1", "A-2"], null, null).Reserved();

        Assert.Equal(ReservationStatus.PendingPayment, view.Status);
        Assert.Equal(userId, view.UserId);
        Assert.Equal(["A-1", "A-2"], view.Seats);
        Assert.Equal(2 * TestEvents.Price, view.Amount);
        Assert.Equal(TestEvents.Currency, view.Currency);
        Assert.Equal(now + HoldDuration, view.ExpiresAt);
        Assert.Null(view.Payment);
        AssertSameView(view, await Reservation(view.ReservationId).Get());
        Assert.Equal(SeatStatus.Held, (await SeatStatuses(definition))["A-1"]);
        Assert.Equal([view.ReservationId], (await User(userId).List()).Select(v => v.ReservationId));
    }

    [Fact]
    public async Task Paying_with_the_sandbox_confirms_and_sells_the_seats()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 3, null).Reserved();

        var paid = await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));

        Assert.Equal(ReservationStatus.Confirmed, paid.Status);
        Assert.NotNull(paid.ConfirmedAt);
        Assert.Equal("sandbox", paid.Payment!.Provider);
        Assert.Equal(created.Amount, paid.Payment.Amount);
        Assert.False(paid.Payment.Refunded);
        var seats = await SeatStatuses(definition);
        Assert.All(created.Seats, id => Assert.Equal(SeatStatus.Sold, seats[id]));
        var payment = await fixture.Grains.GetGrain<ISandboxPaymentGrain>(paid.Payment.PaymentId).Get();
        Assert.Equal(SandboxPaymentStatus.Approved, payment!.Status);
        Assert.Equal(created.ReservationId.ToString(), payment.Reference);
    }

    [Fact]
    public async Task Free_tickets_are_confirmed_without_taking_a_payment()
    {
        var definition = await fixture.CreateEvent(TestEvents.Settings(holdDuration: HoldDuration), price: 0m);
        var userId = Guid.NewGuid();
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, null).Reserved();

        var confirmed = await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));

        Assert.Equal(0m, created.Amount);
        Assert.Equal(ReservationStatus.Confirmed, confirmed.Status);
        Assert.Null(confirmed.Payment);
        var seats = await SeatStatuses(definition);
        Assert.All(created.Seats, id => Assert.Equal(SeatStatus.Sold, seats[id]));
    }

    [Fact]
    public async Task Paying_twice_returns_the_same_confirmed_reservation()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, null).Reserved();
        var reservation = Reservation(created.ReservationId);

        var first = await reservation.Pay(new PaymentCommand(userId, "sandbox", null));
        var second = await reservation.Pay(new PaymentCommand(userId, "sandbox", null));

        AssertSameView(first, second);
        Assert.Equal(2, (await Block(definition).GetCounts()).Sold);
    }

    [Fact]
    public async Task Cancelling_frees_the_seats_and_refunds_the_payment()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, ["C-4", "C-5"], null, null).Reserved();
        var reservation = Reservation(created.ReservationId);
        var paid = await reservation.Pay(new PaymentCommand(userId, "sandbox", null));

        var cancelled = await reservation.Cancel(userId);
        var cancelledAgain = await reservation.Cancel(userId);

        Assert.Equal(ReservationStatus.Cancelled, cancelled.Status);
        AssertSameView(cancelled, cancelledAgain);
        Assert.True(cancelled.Payment!.Refunded);
        var seats = await SeatStatuses(definition);
        Assert.Equal(SeatStatus.Available, seats["C-4"]);
        Assert.Equal(SeatStatus.Available, seats["C-5"]);
        var payment = await fixture.Grains.GetGrain<ISandboxPaymentGrain>(paid.Payment!.PaymentId).Get();
        Assert.Equal(SandboxPaymentStatus.Refunded, payment!.Status);
    }

    [Fact]
    public async Task A_refused_hold_creates_no_reservation()
    {
        var definition = await fixture.CreateEvent(TestEvents.Settings(holdDuration: HoldDuration), rows: 1, seatsPerRow: 1);
        var winner = await User(Guid.NewGuid()).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null).Reserved();
        var before = await ReservationActivations();

        for (var i = 0; i < 5; i++)
        {
            var refused = await User(Guid.NewGuid()).Reserve(definition.EventId, TestEvents.BlockId, [winner.Seats[0]], null, $"key-{i}");
            Assert.Null(refused.Reservation);
            Assert.Equal("seats-unavailable", refused.Refusal?.Code);
            Assert.Equal("seatIds", refused.Refusal?.Field);
            Assert.Contains(winner.Seats[0], refused.Refusal?.Detail);
        }

        // In a rush most attempts are refused; none of them may cost a reservation grain (and, in cluster
        // mode, a storage read for its state).
        Assert.Equal(before, await ReservationActivations());
        Assert.Equal(new SeatCounts(Total: 1, Available: 0, Held: 1, Sold: 0), await Block(definition).GetCounts());
    }

    private async Task<int> ReservationActivations() =>
        (await fixture.Grains.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics())
            .Where(s => s.GrainType.StartsWith(typeof(ReservationGrain).FullName + ",", StringComparison.Ordinal))
            .Sum(s => s.ActivationCount);

    [Fact]
    public async Task Per_user_ticket_limit_is_enforced()
    {
        var definition = await NewEvent(ticketLimitPerUser: 4);
        var userId = Guid.NewGuid();
        var first = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 3, null).Reserved();

        var refused = await Assert.ThrowsAsync<DomainException>(() =>
            User(userId).Reserve(definition.EventId, TestEvents.BlockId, ["E-1", "E-2"], null, null).Reserved());

        Assert.Equal("ticket-limit-exceeded", refused.Code);
        Assert.Equal(DomainErrorKind.Conflict, refused.Kind);
        Assert.Equal(3, (await Block(definition).GetCounts()).Held);
        // The one seat left under the limit is still there to take; a cancelled purchase gives its seats back to the allowance.
        await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null).Reserved();
        await Reservation(first.ReservationId).Cancel(userId);
        var afterCancel = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 3, null).Reserved();
        Assert.Equal(ReservationStatus.PendingPayment, afterCancel.Status);
    }

    [Fact]
    public async Task Same_idempotency_key_returns_the_same_reservation()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();

        var first = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, "key-1").Reserved();
        var again = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, "key-1").Reserved();

        Assert.Equal(first.ReservationId, again.ReservationId);
        Assert.Equal(first.Seats, again.Seats);
        Assert.Single(await User(userId).List());
        Assert.Equal(2, (await Block(definition).GetCounts()).Held);
    }

    [Fact]
    public async Task A_retry_after_the_user_grain_lost_its_write_gets_the_same_hold()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        var first = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, "key-1").Reserved();

        // The silo hosting the user's grain dies after the seats were held but before the grain saved
        // the key: its saved state is what it was before, and the next call finds a fresh activation.
        var grainId = User(userId).GetGrainId();
        var storage = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageNames.Reservations);
        var saved = new GrainState<UserReservationsState>();
        await storage.ReadStateAsync("userReservations", grainId, saved);
        await storage.ClearStateAsync("userReservations", grainId, saved);
        await CrashUserGrain(userId);

        var retried = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, "key-1").Reserved();

        Assert.Equal(first.ReservationId, retried.ReservationId);
        Assert.Equal(first.Seats, retried.Seats);
        Assert.Equal(2, (await Block(definition).GetCounts()).Held);
        Assert.Equal([first.ReservationId], (await User(userId).List()).Select(r => r.ReservationId));
    }

    [Fact]
    public async Task A_keyless_reservation_that_could_not_be_saved_gives_its_seats_back()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();

        using (FailReservationWritesOf(userId))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, null).Reserved());
        }

        // Without the undo the block kept both seats held, from everyone, until the hold expired.
        Assert.Equal(0, (await Block(definition).GetCounts()).Held);
        Assert.Empty(await User(userId).List());

        var retried = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, null).Reserved();
        Assert.Equal(ReservationStatus.PendingPayment, retried.Status);
        Assert.Equal(2, (await Block(definition).GetCounts()).Held);
    }

    [Fact]
    public async Task A_keyless_reservation_the_users_list_could_not_record_never_opens()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        var userGrain = User(userId).GetGrainId();

        using (fixture.StorageFaults.FailWritesOf("userReservations", userGrain))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, null).Reserved());
        }

        // The list is written before the reservation is opened: with it unwritten, nothing was opened,
        // and the hold went back.
        Assert.Equal(0, (await Block(definition).GetCounts()).Held);
        Assert.Empty(await User(userId).List());
        Assert.DoesNotContain(fixture.Events.Recent(), e => e is SeatsHeld held && held.UserId == userId);
    }

    [Fact]
    public async Task A_reservation_opened_by_a_call_that_died_still_counts_toward_the_ticket_limit()
    {
        var definition = await NewEvent(ticketLimitPerUser: 4);
        var userId = Guid.NewGuid();

        // The reservation is saved, but the answer is lost and the user's grain dies before hearing it.
        using (FailReservationWritesOf(userId, afterWriting: true))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, "key-1").Reserved());
        }

        await CrashUserGrain(userId);

        // A retry under another key for the whole allowance: the two seats the first call opened count.
        var refused = await Assert.ThrowsAsync<DomainException>(() =>
            User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 4, "key-2").Reserved());
        Assert.Equal("ticket-limit-exceeded", refused.Code);
        Assert.Equal(2, (await Block(definition).GetCounts()).Held);

        // The first key's retry finds the reservation the dead call opened.
        var first = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, "key-1").Reserved();
        Assert.Equal(ReservationStatus.PendingPayment, first.Status);
        Assert.Equal([first.ReservationId], (await User(userId).List()).Select(r => r.ReservationId));
        Assert.Equal(2, (await Block(definition).GetCounts()).Held);
    }

    [Fact]
    public async Task A_keyed_reservation_that_could_not_be_saved_keeps_its_hold_for_the_retry()
    {
        var (definition, userId) = await KeyedReservationNamedButNeverOpened();

        var retried = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, "key-1").Reserved();

        Assert.Equal(ReservationStatus.PendingPayment, retried.Status);
        Assert.Equal(2, (await Block(definition).GetCounts()).Held);
        Assert.Equal([retried.ReservationId], (await User(userId).List()).Select(r => r.ReservationId));
    }

    [Fact]
    public async Task A_keyless_reservation_saved_but_unanswered_is_cancelled_and_its_seats_freed()
    {
        var definition = await NewEvent(ticketLimitPerUser: 4);
        var userId = Guid.NewGuid();

        // The reservation is written, but its answer is lost: the caller is told the request failed.
        using (FailReservationWritesOf(userId, afterWriting: true))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, null).Reserved());
        }

        // It did open, and the user's grain cancelled it: no pending reservation the user never heard of,
        // no seats held, and the whole allowance is there to use.
        var reservation = Assert.Single(await User(userId).List());
        Assert.Equal(ReservationStatus.Cancelled, reservation.Status);
        Assert.Equal(0, (await Block(definition).GetCounts()).Held);
        var next = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 4, null).Reserved();
        Assert.Equal(ReservationStatus.PendingPayment, next.Status);
    }

    [Fact]
    public async Task A_named_reservation_that_opens_late_still_counts_toward_the_ticket_limit()
    {
        var (definition, userId) = await KeyedReservationNamedButNeverOpened();

        // Named, held, not opened. A scan now finds nothing behind the name and must not forget it.
        var named = (await SavedUserState(userId)).Reservations.Single().ReservationId;
        await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, "key-2").Reserved();

        // The call that died arrives after all, within the hold (the block answers a repeated id with its hold).
        var hold = (await Block(definition).Hold(new SeatHoldRequest(named, null, 2, fixture.Clock.GetUtcNow() + HoldDuration))).HeldOrThrow();
        await Reservation(named).Create(new ReservationRequest(named, userId, definition.EventId, TestEvents.BlockId, hold, 0m, definition.Currency));

        // 2 + 1 held: two more would pass the limit of 4.
        var refused = await Assert.ThrowsAsync<DomainException>(() => User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, "key-3").Reserved());
        Assert.Equal("ticket-limit-exceeded", refused.Code);
    }

    [Fact]
    public async Task A_reservation_that_never_opened_drops_its_watch_when_it_fires()
    {
        var (_, userId) = await KeyedReservationNamedButNeverOpened();

        var named = (await SavedUserState(userId)).Reservations.Single().ReservationId;
        Assert.True(await Watched(named));

        await FireWatch(named);

        // Before, it fired every minute for ever, waking a grain with nothing to watch.
        Assert.False(await Watched(named));
    }

    private async Task<UserReservationsState> SavedUserState(Guid userId)
    {
        var storage = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageNames.Reservations);
        var saved = new GrainState<UserReservationsState>();
        await storage.ReadStateAsync("userReservations", User(userId).GetGrainId(), saved);
        return saved.State ?? throw new InvalidOperationException("The user's list was never saved.");
    }

    // A keyed request for two seats (limit 4) whose reservation could not be saved: the user's list names
    // it and the block holds its seats for the retry, but it never opened.
    private async Task<(EventDefinition Definition, Guid UserId)> KeyedReservationNamedButNeverOpened()
    {
        var definition = await NewEvent(ticketLimitPerUser: 4);
        var userId = Guid.NewGuid();
        using (FailReservationWritesOf(userId))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, "key-1").Reserved());
        }

        return (definition, userId);
    }

    // A confirmed purchase whose cancellation saved its state but could not give the seats back.
    private async Task<(EventDefinition Definition, Guid UserId, Guid ReservationId)> CancelledWithSeatsStillSold()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, null).Reserved();
        await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));
        var blockGrain = Block(definition).GetGrainId();
        using (fixture.StorageFaults.FailWritesOf("seatBlock", blockGrain))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => Reservation(created.ReservationId).Cancel(userId));
        }

        Assert.Equal(ReservationStatus.Cancelled, (await Reservation(created.ReservationId).Get())?.Status);
        Assert.Equal(2, (await Block(definition).GetCounts()).Sold);
        return (definition, userId, created.ReservationId);
    }

    [Fact]
    public async Task Seats_a_cancellation_could_not_release_go_back_when_it_is_retried()
    {
        var (definition, userId, reservationId) = await CancelledWithSeatsStillSold();

        // Before, the retry saw "cancelled" and returned at once: the seats stayed sold to nobody for good.
        var retried = await Reservation(reservationId).Cancel(userId);

        Assert.Equal(ReservationStatus.Cancelled, retried.Status);
        Assert.True(retried.Payment?.Refunded);
        Assert.Equal(new SeatCounts(Total: 50, Available: 50, Held: 0, Sold: 0), await Block(definition).GetCounts());
    }

    [Fact]
    public async Task Seats_a_cancellation_could_not_release_go_back_when_its_reminder_fires()
    {
        var (definition, _, reservationId) = await CancelledWithSeatsStillSold();

        await FireWatch(reservationId);

        Assert.Equal(new SeatCounts(Total: 50, Available: 50, Held: 0, Sold: 0), await Block(definition).GetCounts());
    }

    [Fact]
    public async Task A_different_request_under_a_used_idempotency_key_is_refused()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, "key-1").Reserved();

        var refused = await Assert.ThrowsAsync<DomainException>(() =>
            User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, "key-1").Reserved());

        Assert.Equal("idempotency-key-reused", refused.Code);
        Assert.Equal(DomainErrorKind.Conflict, refused.Kind);
        Assert.Equal("Idempotency-Key", refused.Field);
        Assert.Single(await User(userId).List());
    }

    [Fact]
    public async Task Payment_never_sells_seats_other_than_those_the_reservation_shows()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, [TestEvents.SeatId(0, 1)], null, null).Reserved();

        // The reservation's hold lapsed in the block and its id was held again, for another seat: a retried
        // request racing the expiry on a silo whose clock runs ahead of the reservation's.
        await Block(definition).Release(created.ReservationId);
        (await Block(definition).Hold(new SeatHoldRequest(
            created.ReservationId, [TestEvents.SeatId(0, 2)], null, fixture.Clock.GetUtcNow() + HoldDuration))).HeldOrThrow();

        var refused = await Assert.ThrowsAsync<DomainException>(() =>
            Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null)));

        Assert.Equal("reservation-expired", refused.Code);
        var view = await Reservation(created.ReservationId).Get();
        Assert.Equal(ReservationStatus.Expired, view!.Status);
        Assert.True(view.Payment!.Refunded);
        Assert.Equal(new SeatCounts(Total: 50, Available: 50, Held: 0, Sold: 0), await Block(definition).GetCounts());
    }

    [Fact]
    public async Task Money_captured_but_never_recorded_is_refunded_when_the_reservation_closes()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, null).Reserved();

        // The sandbox takes the money, then the reservation cannot record it (its database is away).
        await CapturedButNotRecorded(userId, created.ReservationId);

        var taken = await fixture.Grains.GetGrain<ISandboxPaymentGrain>(SandboxPaymentProvider.PaymentIdFor(created.ReservationId)).Get();
        Assert.Equal(SandboxPaymentStatus.Approved, taken?.Status);
        Assert.Null((await Reservation(created.ReservationId).Get())?.Payment);

        // The buyer gives up; the hold runs out. Before, nothing knew of the money, and it was kept.
        fixture.Clock.Advance(HoldDuration + TimeSpan.FromSeconds(1));
        var closed = await Reservation(created.ReservationId).Get();

        Assert.Equal(ReservationStatus.Expired, closed?.Status);
        Assert.Equal(taken!.PaymentId, closed!.Payment?.PaymentId);
        Assert.True(closed.Payment?.Refunded);
        var refunded = await fixture.Grains.GetGrain<ISandboxPaymentGrain>(taken.PaymentId).Get();
        Assert.Equal(SandboxPaymentStatus.Refunded, refunded?.Status);
        Assert.Contains(fixture.Events.Recent(), e => e is PaymentRefunded r && r.ReservationId == created.ReservationId && r.PaymentId == taken.PaymentId);
    }

    [Fact]
    public async Task Money_captured_but_never_recorded_is_refunded_when_a_checkout_payment_confirms_the_reservation()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 2, null).Reserved();
        await CapturedButNotRecorded(userId, created.ReservationId);

        var taken = fixture.Grains.GetGrain<ISandboxPaymentGrain>(SandboxPaymentProvider.PaymentIdFor(created.ReservationId));
        Assert.Equal(SandboxPaymentStatus.Approved, (await taken.Get())?.Status);

        // The buyer, told the payment failed, pays again at the company's checkout, and that confirms the seats.
        var checkout = fixture.Grains.GetGrain<ISandboxPaymentGrain>(SandboxCheckout.PaymentIdFor(created.ReservationId));
        await checkout.Approve(created.ReservationId.ToString(), created.Amount, created.Currency);
        var confirmed = await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", checkout.GetPrimaryKeyString()));

        // Before, the first capture was kept as well: two payments for one set of seats.
        Assert.Equal(ReservationStatus.Confirmed, confirmed.Status);
        Assert.Equal(checkout.GetPrimaryKeyString(), confirmed.Payment?.PaymentId);
        Assert.Equal(SandboxPaymentStatus.Approved, (await checkout.Get())?.Status);
        Assert.Equal(SandboxPaymentStatus.Refunded, (await taken.Get())?.Status);
        Assert.Contains(fixture.Events.Recent(), e => e is PaymentRefunded { Reason: "duplicate-payment" } r
            && r.ReservationId == created.ReservationId && r.PaymentId == taken.GetPrimaryKeyString());
    }

    [Fact]
    public async Task A_checkout_payment_completed_just_after_the_confirmation_is_found_and_refunded_at_a_later_wake_up()
    {
        var (userId, created) = await OneSeatHeld();
        var confirmed = await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));

        // A second tab's checkout saw the reservation still open and approved just after the confirmation.
        var checkout = await PaidAtTheCheckout(created);

        var view = await WakeUpAfterTheCheckoutGrace(created.ReservationId);

        Assert.Equal(SandboxPaymentStatus.Refunded, (await checkout.Get())?.Status);
        Assert.Equal(ReservationStatus.Confirmed, view?.Status);
        Assert.Equal(confirmed.Payment, view?.Payment);
        Assert.Equal(SandboxPaymentStatus.Approved, (await fixture.Grains.GetGrain<ISandboxPaymentGrain>(confirmed.Payment!.PaymentId).Get())?.Status);
    }

    [Fact]
    public async Task Payment_after_the_hold_expired_is_refunded_and_sells_nothing()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, ["B-7", "B-8"], null, null).Reserved();
        // The buyer pays at the provider first and comes back too late with the payment id.
        var paymentId = $"pay-{Guid.NewGuid():N}";
        await fixture.Grains.GetGrain<ISandboxPaymentGrain>(paymentId)
            .Approve(created.ReservationId.ToString(), created.Amount, created.Currency);

        fixture.Clock.Advance(HoldDuration + TimeSpan.FromSeconds(1));
        var late = await Assert.ThrowsAsync<DomainException>(() =>
            Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", paymentId)));

        Assert.Equal("reservation-expired", late.Code);
        var view = await Reservation(created.ReservationId).Get();
        Assert.Equal(ReservationStatus.Expired, view!.Status);
        Assert.True(view.Payment!.Refunded);
        var seats = await SeatStatuses(definition);
        Assert.Equal(SeatStatus.Available, seats["B-7"]);
        Assert.Equal(SeatStatus.Available, seats["B-8"]);
        Assert.Equal(0, (await Block(definition).GetCounts()).Sold);
        var payment = await fixture.Grains.GetGrain<ISandboxPaymentGrain>(paymentId).Get();
        Assert.Equal(SandboxPaymentStatus.Refunded, payment!.Status);
    }

    [Fact]
    public async Task Another_user_cannot_pay_or_cancel_the_reservation()
    {
        var definition = await NewEvent();
        var owner = Guid.NewGuid();
        var stranger = Guid.NewGuid();
        var created = await User(owner).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null).Reserved();
        var reservation = Reservation(created.ReservationId);

        var pay = await Assert.ThrowsAsync<DomainException>(() => reservation.Pay(new PaymentCommand(stranger, "sandbox", null)));
        var cancel = await Assert.ThrowsAsync<DomainException>(() => reservation.Cancel(stranger));

        Assert.Equal(DomainErrorKind.NotFound, pay.Kind);
        Assert.Equal("reservation-not-found", pay.Code);
        Assert.Equal(DomainErrorKind.NotFound, cancel.Kind);
        Assert.Equal("reservation-not-found", cancel.Code);
        var unchanged = await reservation.Get();
        Assert.Equal(ReservationStatus.PendingPayment, unchanged!.Status);
        Assert.Null(unchanged.Payment);
        Assert.Equal(1, (await Block(definition).GetCounts()).Held);
    }

    [Fact]
    public async Task A_second_tab_paying_with_a_checkout_payment_already_refunded_is_shown_the_confirmed_reservation()
    {
        var (userId, created) = await OneSeatHeld();
        var confirmed = await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));
        var checkout = await PaidAtTheCheckout(created);
        await WakeUpAfterTheCheckoutGrace(created.ReservationId);
        Assert.Equal(SandboxPaymentStatus.Refunded, (await checkout.Get())?.Status);
        var refunds = fixture.Events.Recent().Count(e => e is PaymentRefunded r && r.ReservationId == created.ReservationId);

        // The second tab comes back from the checkout with its payment id. Before, it was told 409
        // "payment-refunded" about a reservation that is bought and paid.
        var view = await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", checkout.GetPrimaryKeyString()));

        Assert.Equal(ReservationStatus.Confirmed, view.Status);
        Assert.Equal(confirmed.Payment, view.Payment);
        Assert.Equal(refunds, fixture.Events.Recent().Count(e => e is PaymentRefunded r && r.ReservationId == created.ReservationId));
    }

    [Fact]
    public async Task A_retried_checkout_payment_already_refunded_confirms_a_pending_reservation_with_the_payment_on_record()
    {
        var (userId, created) = await OneSeatHeld();
        var blockGrain = Block(created.EventId).GetGrainId();
        ISandboxPaymentGrain checkout;
        using (fixture.StorageFaults.FailWritesOf("seatBlock", blockGrain))
        {
            // One tab's payment is on record, but the seats cannot be sold yet; the checkout tab's payment,
            // a second one, is refunded, and its confirmation fails the same way.
            await Assert.ThrowsAnyAsync<Exception>(() => Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null)));
            checkout = await PaidAtTheCheckout(created);
            await Assert.ThrowsAnyAsync<Exception>(() => Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", checkout.GetPrimaryKeyString())));
        }

        Assert.Equal(SandboxPaymentStatus.Refunded, (await checkout.Get())?.Status);
        var recorded = (await Reservation(created.ReservationId).Get())!.Payment;
        Assert.NotNull(recorded);
        Assert.NotEqual(checkout.GetPrimaryKeyString(), recorded.PaymentId);

        // The checkout tab retries. Before, it was told 409 "payment-refunded" while the money on record
        // could pay, and the hold ran out.
        var view = await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", checkout.GetPrimaryKeyString()));

        Assert.Equal(ReservationStatus.Confirmed, view.Status);
        Assert.Equal(recorded, view.Payment);
        Assert.Equal(1, (await Block(created.EventId).GetCounts()).Sold);
    }

    [Fact]
    public async Task A_payment_found_while_records_cannot_be_written_is_given_back_and_announced_once_when_they_can()
    {
        var (userId, created) = await OneSeatHeld();
        await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));
        var checkout = await PaidAtTheCheckout(created);
        using (FailReservationWritesOf(userId))
        {
            // The wake-up finds the second payment but cannot record it (the activation then goes, so the
            // read that woke it may be refused too). It must not give the money back unrecorded: once
            // refunded, the company no longer lists the payment, and nobody would announce the refund.
            await Record.ExceptionAsync(() => WakeUpAfterTheCheckoutGrace(created.ReservationId));
        }

        Assert.Equal(SandboxPaymentStatus.Approved, (await checkout.Get())?.Status);
        Assert.DoesNotContain(fixture.Events.Recent(), e => e is PaymentRefunded r && r.ReservationId == created.ReservationId);

        await fixture.Cluster.DeactivateAsync(Reservation(created.ReservationId));
        var view = await Reservation(created.ReservationId).Get();

        // Recorded, announced once, and given back.
        Assert.Equal(ReservationStatus.Confirmed, view?.Status);
        Assert.Equal(SandboxPaymentStatus.Refunded, (await checkout.Get())?.Status);
        Assert.Equal(1, fixture.Events.Recent().Count(e => e is PaymentRefunded r && r.ReservationId == created.ReservationId));
    }

    // Bought and paid, and settled (the last look for stray payments is done, the watch gone); then a
    // second tab's payment is made at the checkout.
    private async Task<(Guid UserId, ReservationView Created, ISandboxPaymentGrain Checkout)> SettledThenPaidAgainAtTheCheckout()
    {
        var (userId, created) = await OneSeatHeld();
        await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));
        await WakeUpAfterTheCheckoutGrace(created.ReservationId);
        return (userId, created, await PaidAtTheCheckout(created));
    }

    // How many times a refund of this payment was announced.
    private int RefundsAnnounced(Guid reservationId, string paymentId) =>
        fixture.Events.Recent().Count(e => e is PaymentRefunded r && r.ReservationId == reservationId && r.PaymentId == paymentId);

    [Fact]
    public async Task A_second_payment_brought_to_a_confirmed_reservation_whose_record_fails_is_not_given_back_unannounced()
    {
        var (userId, created, checkout) = await SettledThenPaidAgainAtTheCheckout();
        using (FailReservationWritesOf(userId))
        {
            // A second tab comes back with its payment; the reservation cannot record it.
            await Assert.ThrowsAnyAsync<Exception>(() =>
                Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", checkout.GetPrimaryKeyString())));
        }

        // Before, the money went back first: once refunded the company no longer lists the payment, so no
        // later look found it, and the refund was never announced.
        Assert.Equal(SandboxPaymentStatus.Approved, (await checkout.Get())?.Status);

        // The tab does not try again. The watch the failed change registered looks once more, although
        // storage says the last look was made.
        Assert.True(await Watched(created.ReservationId));
        await FireWatch(created.ReservationId);

        Assert.Equal(SandboxPaymentStatus.Refunded, (await checkout.Get())?.Status);
        Assert.Equal(1, RefundsAnnounced(created.ReservationId, checkout.GetPrimaryKeyString()));
        Assert.False(await Watched(created.ReservationId));

        // A retry of the tab now is shown the reservation, and announces nothing more.
        await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", checkout.GetPrimaryKeyString()));
        Assert.Equal(1, RefundsAnnounced(created.ReservationId, checkout.GetPrimaryKeyString()));
    }

    [Fact]
    public async Task A_second_payment_whose_refund_fails_after_the_checkout_grace_is_given_back_by_the_watch_and_announced_once()
    {
        var (userId, created, checkout) = await SettledThenPaidAgainAtTheCheckout();
        using (fixture.StorageFaults.FailWritesOf("sandboxPayment", checkout.GetGrainId()))
        {
            // A second tab comes back with its payment, and the company cannot refund it now.
            await Assert.ThrowsAnyAsync<Exception>(() =>
                Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", checkout.GetPrimaryKeyString())));
        }

        // Before, nothing would look again: the money was kept unless the buyer retried.
        Assert.True(await Watched(created.ReservationId));
        await FireWatch(created.ReservationId);

        Assert.Equal(SandboxPaymentStatus.Refunded, (await checkout.Get())?.Status);
        Assert.Equal(1, RefundsAnnounced(created.ReservationId, checkout.GetPrimaryKeyString()));
        Assert.False(await Watched(created.ReservationId));
    }

    [Fact]
    public async Task A_stray_payment_whose_refund_keeps_failing_is_announced_once_however_often_the_wake_up_looks()
    {
        var (userId, created) = await OneSeatHeld();
        await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));
        var checkout = await PaidAtTheCheckout(created);
        using (fixture.StorageFaults.FailWritesOf("sandboxPayment", checkout.GetGrainId()))
        {
            // Each wake-up records the payment it found and cannot give it back.
            await WakeUpAfterTheCheckoutGrace(created.ReservationId);
            await WakeUpAfterTheCheckoutGrace(created.ReservationId);
            Assert.Equal(SandboxPaymentStatus.Approved, (await checkout.Get())?.Status);
        }

        await WakeUpAfterTheCheckoutGrace(created.ReservationId);

        // Before, every look announced it again.
        Assert.Equal(SandboxPaymentStatus.Refunded, (await checkout.Get())?.Status);
        Assert.Equal(1, RefundsAnnounced(created.ReservationId, checkout.GetPrimaryKeyString()));
        Assert.Equal(1, fixture.Events.Recent().Count(e => e is PaymentApproved a && a.PaymentId == checkout.GetPrimaryKeyString()));
    }

    [Fact]
    public async Task A_refund_whose_record_failed_is_never_stored_without_its_announcement_by_the_same_activation()
    {
        var (userId, created) = await OneSeatHeld();
        var paid = await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));
        using (fixture.StorageFaults.FailWritesOf("seatBlock", Block(created.EventId).GetGrainId()))
        {
            // Cancelled (its event stored and handed over), the seats not yet back, the money not yet refunded.
            await Assert.ThrowsAnyAsync<Exception>(() => Reservation(created.ReservationId).Cancel(userId));
        }

        // The next wake-up frees the seats (handing the stored events over again), refunds, and the write
        // recording the refund fails once. Before the guard, the same activation went on to find itself
        // settled and wrote its state once more: "refunded", without the event its failed write dropped.
        var failures = 0;
        fixture.Clock.Advance(ReservationGrain.CheckoutGrace + TimeSpan.FromSeconds(1));
        await fixture.Cluster.DeactivateAsync(Reservation(created.ReservationId));
        using (fixture.StorageFaults.FailWrites((stateName, _, state) =>
            stateName == "reservation" && state is ReservationState { View: { Payment.Refunded: true } view } && view.UserId == userId
            && Interlocked.Increment(ref failures) == 1))
        {
            await Record.ExceptionAsync(() => Reservation(created.ReservationId).Get());
        }

        var view = await Reservation(created.ReservationId).Get();

        Assert.NotEqual(0, failures);
        Assert.Equal(ReservationStatus.Cancelled, view?.Status);
        Assert.True(view?.Payment?.Refunded);
        Assert.Equal(SandboxPaymentStatus.Refunded, (await fixture.Grains.GetGrain<ISandboxPaymentGrain>(paid.Payment!.PaymentId).Get())?.Status);
        Assert.Equal(1, RefundsAnnounced(created.ReservationId, paid.Payment.PaymentId));
    }

    [Fact]
    public async Task A_sandbox_refund_that_could_not_be_stored_is_not_reported_done_to_its_retry()
    {
        var (_, created) = await OneSeatHeld();
        var checkout = await PaidAtTheCheckout(created);
        var paymentGrain = checkout.GetGrainId();
        using (fixture.StorageFaults.FailWritesOf("sandboxPayment", paymentGrain))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => checkout.Refund());
            // Before, the activation kept "refunded" in memory: the retry was told the money was back,
            // and the reservation recorded a refund that storage never held.
            await Assert.ThrowsAnyAsync<Exception>(() => checkout.Refund());
        }

        Assert.Equal(SandboxPaymentStatus.Approved, (await checkout.Get())?.Status);
        Assert.Equal(SandboxPaymentStatus.Refunded, (await checkout.Refund()).Status);
    }

    [Fact]
    public async Task A_tab_paying_a_cancelled_reservation_with_a_payment_already_refunded_is_told_it_was_cancelled()
    {
        var (userId, created) = await OneSeatHeld();
        await Reservation(created.ReservationId).Cancel(userId);
        var checkout = await PaidAtTheCheckout(created);
        await WakeUpAfterTheCheckoutGrace(created.ReservationId);
        Assert.Equal(SandboxPaymentStatus.Refunded, (await checkout.Get())?.Status);

        var refused = await Assert.ThrowsAsync<DomainException>(() =>
            Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", checkout.GetPrimaryKeyString())));

        Assert.Equal("reservation-cancelled", refused.Code);
    }

    [Fact]
    public async Task A_payment_for_another_reservation_is_still_refused_after_the_confirmation()
    {
        var definition = await NewEvent();
        var userId = Guid.NewGuid();
        var created = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null).Reserved();
        var other = await User(userId).Reserve(definition.EventId, TestEvents.BlockId, null, 1, null).Reserved();
        await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));
        var othersPayment = await PaidAtTheCheckout(other);

        var refused = await Assert.ThrowsAsync<DomainException>(() =>
            Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", othersPayment.GetPrimaryKeyString())));

        Assert.Equal("payment-mismatch", refused.Code);
        Assert.Equal(SandboxPaymentStatus.Approved, (await othersPayment.Get())?.Status);
    }

    [Fact]
    public async Task A_checkout_payment_completed_just_after_the_cancel_is_found_and_refunded_at_a_later_wake_up()
    {
        var (userId, created) = await OneSeatHeld();
        await Reservation(created.ReservationId).Cancel(userId);

        // The checkout saw the reservation open and approved just after the cancel had looked.
        var checkout = await PaidAtTheCheckout(created);

        // The next wake-up after the grace (the reminder, or an activation) looks once more.
        var view = await WakeUpAfterTheCheckoutGrace(created.ReservationId);

        Assert.Equal(SandboxPaymentStatus.Refunded, (await checkout.Get())?.Status);
        Assert.Equal(checkout.GetPrimaryKeyString(), view?.Payment?.PaymentId);
        Assert.True(view?.Payment?.Refunded);
    }

    [Fact]
    public async Task A_settled_reservation_keeps_no_shipped_events_in_storage_so_no_activation_hands_them_over_again()
    {
        var (userId, created) = await OneSeatHeld();

        await Reservation(created.ReservationId).Pay(new PaymentCommand(userId, "sandbox", null));
        // Confirmed, it is settled once the checkout grace is over and a wake-up has looked for stray payments.
        fixture.Clock.Advance(ReservationGrain.CheckoutGrace + TimeSpan.FromSeconds(1));
        await fixture.Cluster.DeactivateAsync(Reservation(created.ReservationId));
        await Reservation(created.ReservationId).Get();

        // Before, storage kept the last change's events for good: every later activation appended them again,
        // and once the outbox had pruned the published ones, Kafka got them twice.
        var storage = fixture.Cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(StorageNames.Reservations);
        var stored = new GrainState<ReservationState>();
        await storage.ReadStateAsync("reservation", Reservation(created.ReservationId).GetGrainId(), stored);
        var settled = Assert.IsType<ReservationState>(stored.State);
        Assert.Equal(ReservationStatus.Confirmed, settled.View?.Status);
        Assert.Empty(settled.Outbox);
    }
}
