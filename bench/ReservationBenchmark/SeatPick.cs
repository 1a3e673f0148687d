using TicketQueue.Grains.Seats;

namespace TicketQueue.ReservationBenchmark;

/// <summary>How a buyer chooses seats: the two ways the API offers.</summary>
public enum SeatPick
{
    /// <summary>A quantity; the seat block picks the best free seats (<c>{blockId, quantity}</c>).</summary>
    BestAvailable,

    /// <summary>Explicit seats (<c>{blockId, seatIds}</c>): adjacent seats at a random place near the front, where everybody wants to sit.</summary>
    RandomFront,
}

/// <summary>What one buyer asks for: either explicit seats or a quantity, as in <c>POST /api/events/{id}/reservations</c>.</summary>
internal sealed record BuyerRequest(Guid UserId, string BlockId, IReadOnlyList<string>? SeatIds, int? Quantity);

internal static class SeatPicks
{
    public static string Name(SeatPick pick) => pick switch
    {
        SeatPick.BestAvailable => "best-available",
        SeatPick.RandomFront => "random-front",
        _ => throw new ArgumentOutOfRangeException(nameof(pick), pick, null),
    };

    public static SeatPick? Parse(string name) => name switch
    {
        "best-available" => SeatPick.BestAvailable,
        "random-front" => SeatPick.RandomFront,
        _ => null,
    };

    public static string BlockId(int block) => $"b{block + 1}";

    /// <summary>
    /// One request per user; user i buys in block i mod <paramref name="blocks"/>. Random-front picks are drawn
    /// from <paramref name="seed"/>, so a run can be repeated seat for seat.
    /// </summary>
    public static BuyerRequest[] Requests(SeatPick pick, Guid[] users, int blocks, int quantity, int frontRows, int seed)
    {
        var random = new Random(seed);
        var requests = new BuyerRequest[users.Length];
        for (var i = 0; i < users.Length; i++)
        {
            var blockId = BlockId(i % blocks);
            requests[i] = pick switch
            {
                SeatPick.BestAvailable => new BuyerRequest(users[i], blockId, null, quantity),
                SeatPick.RandomFront => new BuyerRequest(users[i], blockId, AdjacentSeats(random, frontRows, quantity), null),
                _ => throw new ArgumentOutOfRangeException(nameof(pick), pick, null),
            };
        }

        return requests;
    }

    // Q seats side by side (people buy together), starting anywhere in one of the front rows.
    private static string[] AdjacentSeats(Random random, int frontRows, int quantity)
    {
        var row = SeatBlockGrain.RowName(random.Next(frontRows));
        var first = random.Next(1, BenchmarkOptions.SeatsPerRow - quantity + 2);
        return [.. Enumerable.Range(first, quantity).Select(number => $"{row}-{number}")];
    }
}
