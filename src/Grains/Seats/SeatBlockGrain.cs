using Orleans.Concurrency;
using TicketQueue.Grains.Abstractions.Seats;
using TicketQueue.Grains.Hosting;
using TicketQueue.Grains.Storage;

namespace TicketQueue.Grains.Seats;

[GenerateSerializer, Alias("tq.SeatBlockState")]
public sealed class SeatBlockState
{
    /// <summary>One slot per seat, row by row: seat index = row * seatsPerRow + (number - 1).</summary>
    [Id(0)] public SeatSlot[] Seats { get; set; } = [];

    /// <summary>Live holds and sales by hold id (the reservation id), with their seat indexes.</summary>
    [Id(1)] public Dictionary<Guid, int[]> Holds { get; set; } = [];

    /// <summary>A copy to write while the grain goes on changing this one (seat slots are values; index arrays are never changed).</summary>
    public SeatBlockState Copy() => new() { Seats = (SeatSlot[])Seats.Clone(), Holds = new Dictionary<Guid, int[]>(Holds) };
}

[GenerateSerializer, Alias("tq.SeatSlot")]
public struct SeatSlot
{
    [Id(0)] public Guid HoldId;
    [Id(1)] public DateTimeOffset HeldUntil;
    [Id(2)] public bool Sold;

    /// <summary>
    /// A hold past its expiry is free, whether or not anything released it: an activation that wakes
    /// after a crash must not resurrect a hold.
    /// </summary>
    public readonly SeatStatus StatusAt(DateTimeOffset now) =>
        Sold ? SeatStatus.Sold
        : HoldId != Guid.Empty && HeldUntil > now ? SeatStatus.Held
        : SeatStatus.Available;
}

/// <summary>
/// One block's seats. Every check and change of seats runs without an await in between, so the grain
/// can be reentrant: callers wait together for the block's next write (group commit), and a hot block
/// writes once per storage round trip instead of once per hold. Nobody is told of a hold, a release or a
/// sale before it is durable; the seat map may show a change a moment before it is.
/// </summary>
[Reentrant]
public sealed class SeatBlockGrain(
    [PersistentState("seatBlock", StorageNames.Reservations)] IPersistentState<SeatBlockState> state,
    TimeProvider time)
    : Grain, ISeatBlockGrain
{
    private SeatBlockDefinition? _block;
    private GroupCommit<SeatBlockState>? _commit;
    private int _pruneAt = 64;

    private SeatBlockDefinition Block =>
        _block ?? throw DomainException.NotFound("block-not-found", $"There is no seat block '{this.GetPrimaryKeyString()}'.");

    private SeatBlockState Working => Commit.Working;

    private SeatSlot[] Seats => Working.Seats;

    public override Task OnActivateAsync(CancellationToken cancellationToken) => TryLoadBlock();

    /// <summary>
    /// Reads the block's layout from the catalog. Until the event exists, calls fail with
    /// "block-not-found" and each one looks again, so a block asked about before its event was created
    /// still works once it is.
    /// </summary>
    private async Task<bool> TryLoadBlock()
    {
        if (_block is not null)
        {
            return true;
        }

        var key = this.GetPrimaryKeyString();
        var slash = key.IndexOf('/');
        var definition = await GrainFactory.GetGrain<IEventCatalogGrain>(EventCatalog.Key).Get(key[..slash]);
        _block = definition?.FindBlock(key[(slash + 1)..]);
        SizeSeats();
        return _block is not null;
    }

    // A block never written holds no seats yet. Checked on every call, not only at load: when the first
    // write fails, the working copy goes back to that empty state, and the next hold must find its seats.
    private void SizeSeats()
    {
        if (_block is not null && Seats.Length != _block.Capacity)
        {
            Working.Seats = new SeatSlot[_block.Capacity];
        }
    }

    private async Task RequireBlock()
    {
        if (!await TryLoadBlock())
        {
            throw DomainException.NotFound("block-not-found", $"There is no seat block '{this.GetPrimaryKeyString()}'.");
        }

        SizeSeats();
    }

    public async Task<SeatHoldResult> Hold(SeatHoldRequest request)
    {
        await RequireBlock();
        var now = time.GetUtcNow();
        if (Working.Holds.TryGetValue(request.HoldId, out var existing) && IsLive(request.HoldId, existing, now))
        {
            var again = new SeatHold(request.HoldId, [.. existing.Select(SeatId)], Seats[existing[0]].HeldUntil);
            await Commit.Durable();
            return SeatHoldResult.Held(again);
        }

        var expiresAt = request.HoldFor is { } holdFor ? now + holdFor : request.ExpiresAt;
        if (expiresAt <= now)
        {
            throw DomainException.Invalid("hold-expired", "A hold must expire in the future.");
        }

        var (chosen, refusal) = (request.SeatIds, request.Quantity) switch
        {
            ({ } ids, null) => ExplicitSeats(ids, now),
            (null, { } quantity) => BestAvailable(quantity, now),
            _ => throw DomainException.Invalid("seats-or-quantity", "Ask for either seatIds or a quantity, not both.", "seatIds"),
        };
        if (refusal is not null)
        {
            return refusal;
        }

        foreach (var index in chosen)
        {
            Seats[index] = new SeatSlot { HoldId = request.HoldId, HeldUntil = expiresAt };
        }

        PruneHolds(now);
        Working.Holds[request.HoldId] = chosen;
        await Commit.Commit();
        return SeatHoldResult.Held(new SeatHold(request.HoldId, [.. chosen.Select(SeatId)], expiresAt));
    }

    public async Task Release(Guid holdId)
    {
        if (!Working.Holds.Remove(holdId, out var indexes))
        {
            await Commit.Durable();
            return;
        }

        foreach (var index in indexes)
        {
            if (Seats[index].HoldId == holdId)
            {
                Seats[index] = default;
            }
        }

        await Commit.Commit();
    }

    public async Task<bool> Confirm(Guid holdId, IReadOnlyList<string> seatIds)
    {
        var now = time.GetUtcNow();
        if (!Working.Holds.TryGetValue(holdId, out var indexes) || !IsLive(holdId, indexes, now))
        {
            return false;
        }

        // The hold id is the reservation's. Should its first hold have lapsed and the id been held again
        // (a retried request), the block holds other seats than the reservation shows: selling those
        // would sell seats nobody was shown, and leave the shown ones free to sell twice.
        if (seatIds.Count != indexes.Length || !indexes.Select(SeatId).ToHashSet(StringComparer.Ordinal).SetEquals(seatIds))
        {
            return false;
        }

        if (indexes.All(i => Seats[i].Sold))
        {
            await Commit.Durable();
            return true;
        }

        foreach (var index in indexes)
        {
            Seats[index].Sold = true;
        }

        await Commit.Commit();
        return true;
    }

    public async Task<IReadOnlyList<SeatView>> GetSeats()
    {
        await RequireBlock();
        var now = time.GetUtcNow();
        var seats = new SeatView[Block.Capacity];
        for (var i = 0; i < seats.Length; i++)
        {
            seats[i] = new SeatView(SeatId(i), RowName(i / Block.SeatsPerRow), i % Block.SeatsPerRow + 1, Seats[i].StatusAt(now));
        }

        return seats;
    }

    public async Task<SeatCounts> GetCounts()
    {
        await RequireBlock();
        var now = time.GetUtcNow();
        int held = 0, sold = 0;
        foreach (var seat in Seats)
        {
            switch (seat.StatusAt(now))
            {
                case SeatStatus.Held: held++; break;
                case SeatStatus.Sold: sold++; break;
            }
        }

        return new SeatCounts(Block.Capacity, Block.Capacity - held - sold, held, sold);
    }

    /// <summary>Row labels run A..Z, then AA, AB, ... like a spreadsheet.</summary>
    public static string RowName(int row)
    {
        var name = string.Empty;
        row++;
        while (row > 0)
        {
            row--;
            name = (char)('A' + row % 26) + name;
            row /= 26;
        }

        return name;
    }

    // A hold is live while every one of its seats is still sold to it or held by it unexpired.
    private bool IsLive(Guid holdId, int[] indexes, DateTimeOffset now) =>
        indexes.All(i => Seats[i].HoldId == holdId && (Seats[i].Sold || Seats[i].HeldUntil > now));

    private (int[] Chosen, SeatHoldResult? Refusal) ExplicitSeats(IReadOnlyList<string> seatIds, DateTimeOffset now)
    {
        if (seatIds.Count == 0)
        {
            throw DomainException.Invalid("no-seats", "Name at least one seat.", "seatIds");
        }

        var indexes = new int[seatIds.Count];
        for (var i = 0; i < seatIds.Count; i++)
        {
            indexes[i] = ParseSeat(seatIds[i])
                ?? throw DomainException.Invalid("unknown-seat", $"There is no seat '{seatIds[i]}' in this block.", "seatIds");
        }

        if (indexes.Distinct().Count() != indexes.Length)
        {
            throw DomainException.Invalid("duplicate-seat", "A seat is named twice.", "seatIds");
        }

        var taken = indexes.Where(i => Seats[i].StatusAt(now) != SeatStatus.Available).Select(SeatId).ToArray();
        return taken.Length > 0
            ? ([], SeatHoldResult.Refused("seats-unavailable", $"These seats are no longer available: {string.Join(", ", taken)}.", "seatIds"))
            : (indexes, null);
    }

    /// <summary>
    /// The best seats are in the front-most row that has enough adjacent free seats, as close to the
    /// row's centre as possible; when no row has them together, the front-most free seats.
    /// </summary>
    private (int[] Chosen, SeatHoldResult? Refusal) BestAvailable(int quantity, DateTimeOffset now)
    {
        if (quantity < 1)
        {
            throw DomainException.Invalid("quantity-out-of-range", "Ask for at least one seat.", "quantity");
        }

        var perRow = Block.SeatsPerRow;
        for (var row = 0; row < Block.Rows && quantity <= perRow; row++)
        {
            var bestStart = -1;
            var bestDistance = int.MaxValue;
            var run = 0;
            for (var seat = 0; seat < perRow; seat++)
            {
                run = Seats[row * perRow + seat].StatusAt(now) == SeatStatus.Available ? run + 1 : 0;
                if (run < quantity)
                {
                    continue;
                }

                var start = seat - quantity + 1;
                var distance = Math.Abs(2 * start + quantity - perRow);
                if (distance < bestDistance)
                {
                    bestDistance = distance;
                    bestStart = start;
                }
            }

            if (bestStart >= 0)
            {
                return ([.. Enumerable.Range(row * perRow + bestStart, quantity)], null);
            }
        }

        var free = Enumerable.Range(0, Seats.Length).Where(i => Seats[i].StatusAt(now) == SeatStatus.Available).Take(quantity).ToArray();
        return free.Length == quantity
            ? (free, null)
            : ([], SeatHoldResult.Refused("not-enough-seats", free.Length == 1 ? "Only 1 seat is left in this block." : $"Only {free.Length} seats are left in this block.", "quantity"));
    }

    private int? ParseSeat(string seatId)
    {
        var dash = seatId.LastIndexOf('-');
        if (dash <= 0 || !int.TryParse(seatId.AsSpan(dash + 1), System.Globalization.NumberStyles.None, null, out var number))
        {
            return null;
        }

        var row = 0;
        foreach (var c in seatId.AsSpan(0, dash))
        {
            if (c is < 'A' or > 'Z' || row > Block.Rows)
            {
                return null;
            }

            row = row * 26 + (c - 'A' + 1);
        }

        row--;
        return row < Block.Rows && number >= 1 && number <= Block.SeatsPerRow ? row * Block.SeatsPerRow + number - 1 : null;
    }

    private string SeatId(int index) => $"{RowName(index / Block.SeatsPerRow)}-{index % Block.SeatsPerRow + 1}";

    private GroupCommit<SeatBlockState> Commit => _commit ??= new GroupCommit<SeatBlockState>(state, s => s.Copy(), DeactivateOnIdle);

    // Forget holds that no longer own any seat, so the map stays about as small as the live holds. It
    // runs when the map has doubled since the last time, so its cost is O(1) per hold.
    private void PruneHolds(DateTimeOffset now)
    {
        var holds = Working.Holds;
        if (holds.Count < _pruneAt)
        {
            return;
        }

        foreach (var (holdId, indexes) in holds)
        {
            if (!indexes.Any(i => Seats[i].HoldId == holdId && (Seats[i].Sold || Seats[i].HeldUntil > now)))
            {
                holds.Remove(holdId);
            }
        }

        _pruneAt = Math.Max(64, 2 * holds.Count);
    }
}
