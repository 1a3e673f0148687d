using TicketQueue.Grains.Queue;

namespace TicketQueue.Grains.Tests.Queue;

/// <summary>
/// The fairness of the pre-queue draw, measured over many draws of <see cref="PreQueueShuffle"/> itself
/// (no cluster needed). Seeds come from a fixed generator, so a run is reproducible; the tolerances are
/// what a truly uniform shuffle passes with near certainty.
/// </summary>
public sealed class PreQueueShuffleTests
{
    private const int Size = 50;
    private const int Draws = 2_000;

    private static readonly ulong[] Seeds = DrawSeeds(Draws);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(50)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(1_000)]
    public void Shuffle_is_a_permutation_for_every_seed(int size)
    {
        foreach (var seed in Seeds.Take(size >= 1_000 ? 50 : Draws))
        {
            var seen = new bool[size + 1];
            for (var place = 1; place <= size; place++)
            {
                var ticket = PreQueueShuffle.TicketFor(place, size, seed);
                Assert.InRange(ticket, 1, size);
                Assert.False(seen[ticket], $"Ticket {ticket} drawn twice for size {size}, seed {seed}.");
                seen[ticket] = true;
            }
        }
    }

    [Fact]
    public void Every_arrival_place_ends_up_mid_line_on_average()
    {
        var sums = new long[Size + 1];
        foreach (var seed in Seeds)
        {
            for (var place = 1; place <= Size; place++)
            {
                sums[place] += PreQueueShuffle.TicketFor(place, Size, seed);
            }
        }

        // A uniform ticket in 1..n has mean (n+1)/2 and variance (n²-1)/12; the mean of D draws has
        // standard error sqrt((n²-1)/12/D) = 0.32 for n = 50, D = 2000. Five standard errors (±1.6)
        // leaves a fair shuffle a chance below 1 in 30,000 of failing any of the 50 places.
        const double expected = (Size + 1) / 2.0;
        var standardError = Math.Sqrt((Size * Size - 1) / 12.0 / Draws);
        for (var place = 1; place <= Size; place++)
        {
            var mean = sums[place] / (double)Draws;
            Assert.True(Math.Abs(mean - expected) <= 5 * standardError,
                $"Arrival place {place} averaged ticket {mean:F2}; a fair draw gives {expected} ± {5 * standardError:F2}.");
        }
    }

    [Fact]
    public void The_first_arrival_is_first_about_once_in_size_draws()
    {
        var firstToFirst = Seeds.Count(seed => PreQueueShuffle.TicketFor(1, Size, seed) == 1);
        var lastToFirst = Seeds.Count(seed => PreQueueShuffle.TicketFor(Size, Size, seed) == 1);

        // Binomial(2000, 1/50): mean 40, standard deviation 6.3. Five deviations either side.
        const double p = 1.0 / Size;
        var mean = Draws * p;
        var tolerance = 5 * Math.Sqrt(Draws * p * (1 - p));
        Assert.InRange(firstToFirst, mean - tolerance, mean + tolerance);
        Assert.InRange(lastToFirst, mean - tolerance, mean + tolerance);
    }

    [Fact]
    public void Every_ticket_is_equally_likely_for_every_place()
    {
        var counts = new int[Size + 1, Size + 1];
        foreach (var seed in Seeds)
        {
            for (var place = 1; place <= Size; place++)
            {
                counts[place, PreQueueShuffle.TicketFor(place, Size, seed)]++;
            }
        }

        // Pearson's chi-square over the place x ticket table; under a uniform shuffle it has
        // (n-1)² = 2401 degrees of freedom, mean 2401 and standard deviation sqrt(2·2401) = 69.
        // Six deviations above the mean is far beyond chance and still catches a biased draw.
        const double expected = (double)Draws / Size;
        var chiSquare = 0.0;
        for (var place = 1; place <= Size; place++)
        {
            for (var ticket = 1; ticket <= Size; ticket++)
            {
                var deviation = counts[place, ticket] - expected;
                chiSquare += deviation * deviation / expected;
            }
        }

        const double degrees = (Size - 1) * (Size - 1);
        Assert.True(chiSquare < degrees + 6 * Math.Sqrt(2 * degrees), $"Chi-square {chiSquare:F0} for {degrees} degrees of freedom.");
    }

    // The queue draws a random 64-bit seed at opening; a fixed generator stands in for it here.
    private static ulong[] DrawSeeds(int count)
    {
        var random = new Random(20300101);
        return [.. Enumerable.Range(0, count).Select(_ => (ulong)random.NextInt64() ^ ((ulong)random.Next() << 32))];
    }
}
