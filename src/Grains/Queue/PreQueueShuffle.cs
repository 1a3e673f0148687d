namespace TicketQueue.Grains.Queue;

/// <summary>
/// The fair random order of the pre-queue, without a list: a keyed pseudo-random permutation of
/// 1..size (a balanced Feistel network over the next power of four, cycle-walked into range).
/// Pre-queue place p gets ticket <see cref="TicketFor"/>(p). Memory is O(1) however many waited.
/// </summary>
public static class PreQueueShuffle
{
    private const int Rounds = 8;

    public static long TicketFor(long place, long size, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(place, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(place, size);
        if (size == 1)
        {
            return 1;
        }

        var halfBits = HalfBits(size);
        var x = (ulong)(place - 1);
        // Cycle walking: the Feistel network permutes [0, 4^halfBits); stepping again until the value
        // lands in [0, size) restricts it to a permutation of that range. 4^halfBits < 4 * size, so a
        // walk takes fewer than four steps on average.
        do
        {
            x = Permute(x, halfBits, seed);
        }
        while (x >= (ulong)size);
        return (long)x + 1;
    }

    private static int HalfBits(long size)
    {
        var bits = 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(size - 1));
        return Math.Max(1, (bits + 1) / 2);
    }

    private static ulong Permute(ulong x, int halfBits, ulong seed)
    {
        var mask = (1UL << halfBits) - 1;
        var left = x >> halfBits;
        var right = x & mask;
        for (var round = 0; round < Rounds; round++)
        {
            var next = left ^ (Mix(right ^ (seed + (ulong)round * 0x9E3779B97F4A7C15UL)) & mask);
            left = right;
            right = next;
        }

        return (left << halfBits) | right;
    }

    // splitmix64's finalizer: a fast, well-mixed 64-bit hash.
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
