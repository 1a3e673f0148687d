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

    [Fact]
    public void A_claim_or_a_finish_told_twice_counts_once()
    {
        var batch = OfThree();

        Assert.True(batch.Claim(11));
        Assert.False(batch.Claim(11));
        Assert.True(batch.Finish(12));
        Assert.False(batch.Finish(12));

        Assert.Equal((1, 0, 1), (batch.Claimed, batch.FinishedClaimed, batch.FinishedUnclaimed));
        Assert.Equal(2, batch.ActiveAt(AdmittedAt.AddMinutes(1), Settings));
        Assert.Equal(1, batch.ActiveAt(AdmittedAt.AddMinutes(3), Settings));
    }

    [Fact]
    public void A_finish_counts_as_claimed_exactly_when_the_batch_counted_the_claim()
    {
        var batch = OfThree();
        batch.Claim(13);

        batch.Finish(13);
        batch.Finish(11);

        Assert.Equal((1, 1), (batch.FinishedClaimed, batch.FinishedUnclaimed));
        Assert.Equal(0, batch.ActiveAt(AdmittedAt.AddMinutes(3), Settings));
    }

    [Fact]
    public void A_finished_shopper_cannot_claim_and_tickets_outside_the_batch_change_nothing()
    {
        var batch = OfThree();
        batch.Finish(12);

        Assert.False(batch.Claim(12));
        Assert.False(batch.Claim(10));
        Assert.False(batch.Finish(14));
        Assert.Equal((0, 0, 1), (batch.Claimed, batch.FinishedClaimed, batch.FinishedUnclaimed));
    }

    [Fact]
    public void Every_ticket_of_a_batch_larger_than_one_word_of_bits_is_counted_apart()
    {
        var batch = new AdmissionBatch { Id = 2, FromExclusive = 1_000, ToInclusive = 1_130, AdmittedAt = AdmittedAt };

        for (var ticket = 1_001L; ticket <= 1_130; ticket++)
        {
            Assert.True(batch.Claim(ticket), $"ticket {ticket}");
        }

        Assert.Equal(130, batch.Claimed);
        Assert.All(Enumerable.Range(1_001, 130), t => Assert.False(batch.Claim(t)));
    }
}
