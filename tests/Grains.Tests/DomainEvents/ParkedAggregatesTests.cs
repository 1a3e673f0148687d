using TicketQueue.Grains.DomainEvents.Relay;

namespace TicketQueue.Grains.Tests.DomainEvents;

public sealed class ParkedAggregatesTests
{
    private static readonly TimeSpan Initial = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(10);
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_parked_aggregate_is_held_until_its_back_off_runs_out_and_no_other_is()
    {
        var parked = new ParkedAggregates(Initial, Max, capacity: 10);

        var wait = parked.Park("reservation", "r-1", Now);

        Assert.InRange(wait, Initial * 0.8, Initial * 1.2);
        Assert.Equal(["reservation/r-1"], Held(parked, Now + wait - TimeSpan.FromMilliseconds(1)));
        Assert.Empty(Held(parked, Now + wait));
    }

    [Fact]
    public void Each_refusal_in_a_row_doubles_the_wait_up_to_the_cap()
    {
        var parked = new ParkedAggregates(Initial, Max, capacity: 10);

        var waits = Enumerable.Range(0, 8).Select(_ => parked.Park("queue", "q-1", Now)).ToList();

        Assert.InRange(waits[1], Initial * 1.6, Initial * 2.4);
        Assert.InRange(waits[3], Initial * 6.4, Initial * 9.6);
        Assert.All(waits.Skip(5), w => Assert.InRange(w, Max * 0.8, Max * 1.2));
        Assert.Equal(1, parked.Count);
    }

    [Fact]
    public void An_acknowledged_event_releases_its_aggregate_and_the_next_refusal_starts_over()
    {
        var parked = new ParkedAggregates(Initial, Max, capacity: 10);
        parked.Park("payment", "p-1", Now);
        parked.Park("payment", "p-1", Now);

        parked.Release("payment", "p-1");

        Assert.Equal(0, parked.Count);
        Assert.Empty(Held(parked, Now));
        Assert.InRange(parked.Park("payment", "p-1", Now), Initial * 0.8, Initial * 1.2);
    }

    [Fact]
    public void The_same_id_under_two_aggregate_types_is_two_aggregates()
    {
        var parked = new ParkedAggregates(Initial, Max, capacity: 10);

        parked.Park("queue", "same", Now);
        parked.Park("reservation", "same", Now);
        parked.Release("queue", "same");

        Assert.Equal(["reservation/same"], Held(parked, Now));
    }

    [Fact]
    public void It_is_full_at_its_capacity_and_clearing_empties_it()
    {
        var parked = new ParkedAggregates(Initial, Max, capacity: 2);
        parked.Park("queue", "a", Now);
        Assert.False(parked.IsFull);

        parked.Park("queue", "b", Now);
        Assert.True(parked.IsFull);

        parked.Clear();
        Assert.False(parked.IsFull);
        Assert.Empty(Held(parked, Now));
    }

    private static List<string> Held(ParkedAggregates parked, DateTimeOffset at)
    {
        var (types, ids) = parked.HeldAt(at);
        Assert.Equal(types.Length, ids.Length);
        return [.. types.Zip(ids, (type, id) => $"{type}/{id}")];
    }
}
