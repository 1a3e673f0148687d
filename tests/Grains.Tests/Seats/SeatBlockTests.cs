using TicketQueue.Grains.Abstractions.Seats;

namespace TicketQueue.Grains.Tests.Seats;

[Collection(ClusterCollection.Name)]
public sealed class SeatBlockTests(ClusterFixture fixture)
{
    private static readonly TimeSpan HoldFor = TimeSpan.FromMinutes(5);

    private async Task<ISeatBlockGrain> NewBlock(int rows = 5, int seatsPerRow = 10)
    {
        var definition = await fixture.CreateEvent(rows: rows, seatsPerRow: seatsPerRow);
        return SeatBlocks.For(fixture.Grains, definition.EventId, TestEvents.BlockId);
    }

    private SeatHoldRequest Explicit(Guid holdId, params string[] seatIds) =>
        new(holdId, seatIds, null, fixture.Clock.GetUtcNow() + HoldFor);

    private SeatHoldRequest Best(Guid holdId, int quantity) =>
        new(holdId, null, quantity, fixture.Clock.GetUtcNow() + HoldFor);

    private static async Task<SeatHold> Held(ISeatBlockGrain block, SeatHoldRequest request) => (await block.Hold(request)).HeldOrThrow();

    private static async Task<Dictionary<string, SeatStatus>> StatusOf(ISeatBlockGrain block) =>
        (await block.GetSeats()).ToDictionary(s => s.SeatId, s => s.Status);

    [Fact]
    public async Task A_hold_asked_for_a_duration_is_timed_by_the_block_and_a_repeat_keeps_its_first_expiry()
    {
        var block = await NewBlock();
        var holdId = Guid.NewGuid();
        // The asker's own reckoning says one minute; the block times the duration on its clock.
        var request = new SeatHoldRequest(holdId, ["A-1"], null, fixture.Clock.GetUtcNow() + TimeSpan.FromMinutes(1), HoldFor);

        var hold = await Held(block, request);
        fixture.Clock.Advance(TimeSpan.FromMinutes(2));
        var repeated = await Held(block, request);

        Assert.Equal(fixture.Clock.GetUtcNow() - TimeSpan.FromMinutes(2) + HoldFor, hold.ExpiresAt);
        Assert.Equal(hold.ExpiresAt, repeated.ExpiresAt);
        Assert.Equal(SeatStatus.Held, (await StatusOf(block))["A-1"]);
        // A caller of the previous version sends no duration: its expiry stands.
        var old = await Held(block, Explicit(Guid.NewGuid(), "A-2") with { ExpiresAt = fixture.Clock.GetUtcNow() + TimeSpan.FromMinutes(1) });
        Assert.Equal(fixture.Clock.GetUtcNow() + TimeSpan.FromMinutes(1), old.ExpiresAt);
    }

    [Fact]
    public async Task A_block_whose_first_write_failed_sells_once_storage_is_back()
    {
        var block = await NewBlock();
        var blockGrain = block.GetGrainId();
        using (fixture.StorageFaults.FailWritesOf("seatBlock", blockGrain))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => block.Hold(Explicit(Guid.NewGuid(), "A-1")));
        }

        // Before, the failed write put back a block with no seats at all, and every call after it failed.
        var hold = await Held(block, Explicit(Guid.NewGuid(), "A-1"));
        Assert.Equal(["A-1"], hold.SeatIds);
        Assert.Equal(SeatStatus.Held, (await StatusOf(block))["A-1"]);
        Assert.Equal(1, (await block.GetCounts()).Held);
    }

    [Fact]
    public async Task A_block_whose_write_landed_but_whose_answer_was_lost_goes_on_selling_and_keeps_what_landed()
    {
        var block = await NewBlock();
        var blockGrain = block.GetGrainId();
        var lost = Guid.NewGuid();
        using (fixture.StorageFaults.FailWritesOf("seatBlock", blockGrain, afterWriting: true))
        {
            await Assert.ThrowsAnyAsync<Exception>(() => block.Hold(Explicit(lost, "A-1")));
        }

        // Before, the activation kept the version stamp from before the write that landed, and storage
        // refused every later write: the block could sell nothing until it happened to be collected.
        var hold = await Held(block, Explicit(Guid.NewGuid(), "A-2"));
        Assert.Equal(["A-2"], hold.SeatIds);

        // The hold whose answer was lost is stored: its seat is not sold to anyone else, and its retry gets it.
        var taken = await block.Hold(Explicit(Guid.NewGuid(), "A-1"));
        Assert.Null(taken.Hold);
        Assert.Equal(["A-1"], (await Held(block, Explicit(lost, "A-1"))).SeatIds);
    }

    [Fact]
    public async Task Holding_explicit_seats_is_all_or_nothing()
    {
        var block = await NewBlock();
        await Held(block, Explicit(Guid.NewGuid(), "B-3"));

        var result = await block.Hold(Explicit(Guid.NewGuid(), "B-1", "B-2", "B-3", "B-4"));

        Assert.Null(result.Hold);
        Assert.Equal(new SeatRefusal("seats-unavailable", "These seats are no longer available: B-3.", "seatIds"), result.Refusal);
        var refused = Assert.Throws<DomainException>(() => result.HeldOrThrow());
        Assert.Equal(("seats-unavailable", DomainErrorKind.Conflict, "seatIds"), (refused.Code, refused.Kind, refused.Field));
        var seats = await StatusOf(block);
        Assert.Equal(SeatStatus.Available, seats["B-1"]);
        Assert.Equal(SeatStatus.Available, seats["B-2"]);
        Assert.Equal(SeatStatus.Held, seats["B-3"]);
        Assert.Equal(SeatStatus.Available, seats["B-4"]);
        Assert.Equal(1, (await block.GetCounts()).Held);
    }

    [Fact]
    public async Task Asking_for_more_seats_than_are_left_is_refused_and_holds_none()
    {
        var block = await NewBlock(rows: 1, seatsPerRow: 4);
        await Held(block, Best(Guid.NewGuid(), 3));

        var result = await block.Hold(Best(Guid.NewGuid(), 2));

        Assert.Null(result.Hold);
        // The code and field are the contract; the detail tells how many are left.
        Assert.Equal("not-enough-seats", result.Refusal?.Code);
        Assert.Equal("quantity", result.Refusal?.Field);
        Assert.Contains("Only 1 seat ", result.Refusal?.Detail, StringComparison.Ordinal);
        Assert.Equal(3, (await block.GetCounts()).Held);
    }

    [Fact]
    public async Task Best_available_seats_are_adjacent_in_the_front_row()
    {
        var block = await NewBlock(rows: 5, seatsPerRow: 10);

        var hold = await Held(block, Best(Guid.NewGuid(), 4));

        Assert.Equal(["A-4", "A-5", "A-6", "A-7"], hold.SeatIds);
    }

    [Fact]
    public async Task Best_available_seats_move_back_when_the_front_row_has_no_room_together()
    {
        var block = await NewBlock(rows: 5, seatsPerRow: 10);
        // Row A keeps only runs of three free seats.
        await Held(block, Explicit(Guid.NewGuid(), "A-4", "A-8"));

        var hold = await Held(block, Best(Guid.NewGuid(), 4));

        Assert.All(hold.SeatIds, id => Assert.StartsWith("B-", id));
        var numbers = hold.SeatIds.Select(id => int.Parse(id[2..])).ToList();
        Assert.Equal(Enumerable.Range(numbers[0], 4), numbers);
    }

    [Fact]
    public async Task Repeating_a_hold_with_the_same_id_returns_the_same_seats()
    {
        var block = await NewBlock();
        var holdId = Guid.NewGuid();

        var first = await Held(block, Best(holdId, 3));
        var again = await Held(block, Best(holdId, 3));
        var explicitId = Guid.NewGuid();
        var firstExplicit = await Held(block, Explicit(explicitId, "C-1", "C-2"));
        var againExplicit = await Held(block, Explicit(explicitId, "C-1", "C-2"));

        Assert.Equal(first.SeatIds, again.SeatIds);
        Assert.Equal(first.ExpiresAt, again.ExpiresAt);
        Assert.Equal(firstExplicit.SeatIds, againExplicit.SeatIds);
        Assert.Equal(5, (await block.GetCounts()).Held);
    }

    [Fact]
    public async Task Release_frees_the_seats()
    {
        var block = await NewBlock();
        var holdId = Guid.NewGuid();
        await Held(block, Explicit(holdId, "A-1", "A-2"));

        await block.Release(holdId);
        await block.Release(holdId);

        Assert.Equal(0, (await block.GetCounts()).Held);
        var retaken = await Held(block, Explicit(Guid.NewGuid(), "A-1", "A-2"));
        Assert.Equal(["A-1", "A-2"], retaken.SeatIds);
    }

    [Fact]
    public async Task Confirm_sells_the_held_seats_and_only_those_the_buyer_was_shown()
    {
        var block = await NewBlock();
        var holdId = Guid.NewGuid();
        await Held(block, Explicit(holdId, "D-5", "D-6"));

        Assert.False(await block.Confirm(holdId, ["D-5", "D-7"]));
        Assert.False(await block.Confirm(holdId, ["D-5"]));
        Assert.False(await block.Confirm(holdId, ["D-5", "D-6", "D-7"]));
        Assert.Equal(0, (await block.GetCounts()).Sold);

        Assert.True(await block.Confirm(holdId, ["D-6", "D-5"]));
        Assert.True(await block.Confirm(holdId, ["D-5", "D-6"]));

        var counts = await block.GetCounts();
        Assert.Equal(2, counts.Sold);
        Assert.Equal(0, counts.Held);
        Assert.Equal(counts.Total - 2, counts.Available);
        var seats = await StatusOf(block);
        Assert.Equal(SeatStatus.Sold, seats["D-5"]);
        Assert.Equal(SeatStatus.Sold, seats["D-6"]);
        Assert.False(await block.Confirm(Guid.NewGuid(), ["D-5", "D-6"]));
    }

    [Fact]
    public async Task An_expired_hold_frees_its_seats_and_can_no_longer_be_sold()
    {
        var block = await NewBlock();
        var oldHold = Guid.NewGuid();
        await Held(block, Explicit(oldHold, "A-1", "A-2"));

        fixture.Clock.Advance(HoldFor + TimeSpan.FromSeconds(1));

        Assert.Equal(0, (await block.GetCounts()).Held);
        var newHold = await Held(block, Explicit(Guid.NewGuid(), "A-1", "A-2"));
        Assert.Equal(["A-1", "A-2"], newHold.SeatIds);
        Assert.False(await block.Confirm(oldHold, ["A-1", "A-2"]));
        Assert.Equal(0, (await block.GetCounts()).Sold);
    }

    [Fact]
    public async Task Expired_hold_is_free_after_reactivation()
    {
        var block = await NewBlock();
        var oldHold = Guid.NewGuid();
        await Held(block, Explicit(oldHold, "E-9", "E-10"));

        await fixture.Cluster.DeactivateAsync(block);
        fixture.Clock.Advance(HoldFor + TimeSpan.FromSeconds(1));

        var seats = await StatusOf(block);
        Assert.Equal(SeatStatus.Available, seats["E-9"]);
        Assert.Equal(SeatStatus.Available, seats["E-10"]);
        Assert.False(await block.Confirm(oldHold, ["E-9", "E-10"]));
        var newHold = await Held(block, Explicit(Guid.NewGuid(), "E-9", "E-10"));
        Assert.Equal(["E-9", "E-10"], newHold.SeatIds);
    }

    [Fact]
    public async Task A_live_hold_survives_reactivation()
    {
        var block = await NewBlock();
        var holdId = Guid.NewGuid();
        await Held(block, Explicit(holdId, "C-3"));

        await fixture.Cluster.DeactivateAsync(block);

        Assert.Equal(SeatStatus.Held, (await StatusOf(block))["C-3"]);
        Assert.True(await block.Confirm(holdId, ["C-3"]));
    }

    [Fact]
    public async Task A_block_asked_about_before_its_event_exists_works_once_the_event_is_created()
    {
        var eventId = $"ev-{Guid.NewGuid():N}";
        var block = SeatBlocks.For(fixture.Grains, eventId, TestEvents.BlockId);
        var early = await Assert.ThrowsAsync<DomainException>(() => block.GetCounts());
        Assert.Equal("block-not-found", early.Code);

        var now = fixture.Clock.GetUtcNow();
        await fixture.Grains.GetGrain<IEventCatalogGrain>(EventCatalog.Key).Create(new EventDefinition(
            eventId, "Late announcement", "Test hall", now.AddDays(30), now.AddMinutes(-1), TestEvents.Currency, 4,
            [new SeatBlockDefinition(TestEvents.BlockId, "Floor", 5, 10, TestEvents.Price)], TestEvents.Settings()));

        var counts = await block.GetCounts();
        Assert.Equal(50, counts.Available);
    }
}
