using TicketQueue.Grains.Queue;

namespace TicketQueue.Grains.Tests.Queue;

public sealed class AdmissionBatchTests
{
    private static readonly DateTimeOffset AdmittedAt = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly QueueSettings Settings = TestEvents.Settings(claimWindow: TimeSpan.FromMinutes(2), shoppingSession: TimeSpan.FromMinutes(10));

    private static AdmissionBatch OfThree(int claimed = 0, int finishedClaimed = 0, int finishedUnclaimed = 0) => new()
    {
        Id = 1, FromExclusive = 10, ToInclusive = 13, AdmittedAt = AdmittedAt,
        Claimed = claimed, FinishedClaimed = finishedClaimed, FinishedUnclaimed = finishedUnclaimed,
    };

    [Fact]
    public void Inside_the_claim_window_everyone_admitted_counts_unless_done()
    {
        Assert.Equal(2, OfThree(claimed: 1, finishedClaimed: 1).ActiveAt(AdmittedAt.AddMinutes(1), Settings));
    }

    [Fact]
    public void After_the_claim_window_only_those_who_showed_up_count_and_after_the_session_nobody()
    {
        Assert.Equal(1, OfThree(claimed: 2, finishedClaimed: 1).ActiveAt(AdmittedAt.AddMinutes(3), Settings));
        Assert.Equal(0, OfThree(claimed: 2).ActiveAt(AdmittedAt.AddMinutes(10), Settings));
    }

    [Fact]
    public void Counters_a_crash_made_count_twice_never_open_more_slots_than_the_batch_had_or_hold_more()
    {
        // Finishes told twice: before, the batch counted -2 and -1, letting in shoppers beyond the limit.
        Assert.Equal(0, OfThree(claimed: 2, finishedClaimed: 4).ActiveAt(AdmittedAt.AddMinutes(3), Settings));
        Assert.Equal(0, OfThree(finishedClaimed: 2, finishedUnclaimed: 2).ActiveAt(AdmittedAt.AddMinutes(1), Settings));
        // Claims told twice: a batch of three holds at most three slots.
        Assert.Equal(3, OfThree(claimed: 5).ActiveAt(AdmittedAt.AddMinutes(3), Settings));
    }
}
