using Orleans;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Abstractions.Seats;

namespace TicketQueue.ReservationBenchmark;

/// <summary>What the checks found: whether all passed, and how many seats were oversold (must be 0).</summary>
internal sealed record CheckReport(bool Ok, long Oversold, IReadOnlyList<ReservationView> Reservations);

/// <summary>
/// After a run the blocks and the reservations must tell the same story: no seat in two reservations, each
/// block's sold seats exactly the seats of its confirmed reservations, nothing left held, and every refusal
/// justified by the seats really being gone.
/// </summary>
internal static class SeatChecks
{
    public static async Task<CheckReport> Verify(
        IGrainFactory grains, string eventId, BenchmarkOptions options, SeatPick pick, BuyerRequest[] requests, Purchase[] outcomes, decimal price)
    {
        var ok = true;
        void Line(string name, bool passed, string detail)
        {
            ok &= passed;
            Console.WriteLine($"  {name,-27} {(passed ? "PASS" : "FAIL")}: {detail}");
        }

        var confirmed = outcomes.Count(o => o.Kind == PurchaseKind.Confirmed);
        var refusedBy = Purchases.RefusalCodes.ToDictionary(c => c, c => outcomes.Count(o => o.RefusalCode == c));
        var failed = outcomes.Where(o => o.Kind is PurchaseKind.HoldFailed or PurchaseKind.PayFailed or PurchaseKind.NotAdmitted).ToArray();
        // Best-available can only run out of seats; named seats can only be taken.
        var expectedCode = pick == SeatPick.BestAvailable ? Purchases.NotEnoughSeats : Purchases.SeatsUnavailable;
        var wrongCode = refusedBy.Where(r => r.Key != expectedCode).Sum(r => r.Value);
        Line("purchase attempts", failed.Length == 0 && wrongCode == 0,
            $"{confirmed:N0} confirmed, {refusedBy.Values.Sum():N0} refused ({string.Join(", ", refusedBy.Select(r => $"{r.Value:N0} {r.Key}"))}), " +
            $"{failed.Length:N0} failed{(failed.FirstOrDefault() is { Error: { } first } ? $" (first: {first})" : "")}");

        // Every reservation that held seats, paid or not: a seat in two of them is oversold.
        var held = outcomes.Select((o, i) => (Outcome: o, Request: requests[i])).Where(x => x.Outcome.ReservationId != Guid.Empty).ToArray();
        var views = await Task.WhenAll(held.Select(x => grains.GetGrain<IReservationGrain>(x.Outcome.ReservationId).Get()));
        var claims = new Dictionary<(string Block, string Seat), int>();
        long badViews = 0, notAsked = 0, inTwo = 0;
        for (var i = 0; i < held.Length; i++)
        {
            var (outcome, request) = held[i];
            var view = views[i];
            if (view is null || (outcome.Kind == PurchaseKind.Confirmed
                && (view is not { Status: ReservationStatus.Confirmed, Payment.Refunded: false } || view.Seats.Count != options.Quantity
                    || view.Amount != price * options.Quantity || view.Payment.Amount != view.Amount)))
            {
                badViews++;
                continue;
            }

            if (request.SeatIds is { } asked && !asked.Order().SequenceEqual(view.Seats.Order()))
            {
                notAsked++;
            }

            if (view.Status is ReservationStatus.Confirmed or ReservationStatus.PendingPayment)
            {
                foreach (var seat in view.Seats)
                {
                    var key = (view.BlockId, seat);
                    claims[key] = claims.GetValueOrDefault(key) + 1;
                    inTwo += claims[key] > 1 ? 1 : 0;
                }
            }
        }

        Line("reservations", badViews == 0 && notAsked == 0 && inTwo == 0,
            $"{views.Length:N0} read back; not confirmed, refunded or wrong amount {badViews}; not the seats asked for {notAsked}; " +
            $"seats in two reservations {inTwo}");

        var confirmedSeats = views.OfType<ReservationView>().Where(v => v.Status == ReservationStatus.Confirmed)
            .SelectMany(v => v.Seats.Select(s => (v.BlockId, Seat: s))).ToHashSet();
        long sold = 0, stillHeld = 0, soldWithoutReservation = 0, reservedNotSold = 0, soldReservedDifference = 0, notAsFarAsDemand = 0;
        var soldSeats = new HashSet<(string Block, string Seat)>();
        for (var b = 0; b < options.Blocks; b++)
        {
            var blockId = SeatPicks.BlockId(b);
            var seats = await SeatBlocks.For(grains, eventId, blockId).GetSeats();
            var soldHere = seats.Where(s => s.Status == SeatStatus.Sold).Select(s => (blockId, s.SeatId)).ToArray();
            var reservedHere = confirmedSeats.Count(s => s.BlockId == blockId);
            soldSeats.UnionWith(soldHere);
            sold += soldHere.Length;
            stillHeld += seats.Count(s => s.Status == SeatStatus.Held);
            soldWithoutReservation += soldHere.Count(s => !confirmedSeats.Contains(s));
            var status = seats.ToDictionary(s => s.SeatId, s => s.Status);
            reservedNotSold += confirmedSeats.Count(s => s.BlockId == blockId && status.GetValueOrDefault(s.Seat) != SeatStatus.Sold);
            soldReservedDifference += Math.Abs(soldHere.Length - reservedHere);
            if (pick == SeatPick.BestAvailable)
            {
                // Best-available falls back to any free seats, so a block sells out to the last full purchase;
                // a refusal while it had Q seats left would show here as seats unsold.
                var buyers = options.Users / options.Blocks + (b < options.Users % options.Blocks ? 1 : 0);
                notAsFarAsDemand += soldHere.Length == Math.Min(buyers, seats.Count / options.Quantity) * options.Quantity ? 0 : 1;
            }
        }

        Line("seat blocks", stillHeld == 0 && soldWithoutReservation == 0 && reservedNotSold == 0 && notAsFarAsDemand == 0,
            $"{sold:N0} seats sold, {confirmedSeats.Count:N0} in confirmed reservations; still held {stillHeld}; sold without a reservation " +
            $"{soldWithoutReservation}; reserved but not sold {reservedNotSold}" +
            (pick == SeatPick.BestAvailable ? $"; blocks not sold as far as demand allows {notAsFarAsDemand}" : ""));

        if (pick == SeatPick.RandomFront)
        {
            // A refusal of named seats is right only if one of them was taken; nothing is released during the
            // run, so a seat taken then is sold at the end.
            var unjustified = outcomes.Select((o, i) => (Outcome: o, Request: requests[i]))
                .Count(x => x.Outcome.Kind == PurchaseKind.Refused && !x.Request.SeatIds!.Any(s => soldSeats.Contains((x.Request.BlockId, s))));
            Line("refusals", unjustified == 0, $"{unjustified} of {refusedBy[Purchases.SeatsUnavailable]:N0} refused requests named no seat that was sold");
        }

        var oversold = inTwo + soldReservedDifference;
        Line("oversold", oversold == 0,
            $"{oversold} (seats in two pending or confirmed reservations {inTwo} + per block |sold - in confirmed reservations| {soldReservedDifference})");
        Console.WriteLine($"  {"overall",-27} {(ok ? "PASS" : "FAIL")}");
        return new CheckReport(ok, oversold, [.. views.OfType<ReservationView>()]);
    }
}
