using TicketQueue.Grains.Abstractions.Events;

namespace TicketQueue.Grains.Queue;

[GenerateSerializer, Alias("tq.EventQueueState")]
public sealed class EventQueueState
{
    [Id(0)] public QueueSettings? Settings { get; set; }
    [Id(1)] public DateTimeOffset SalesOpenAt { get; set; }
    [Id(2)] public bool Opened { get; set; }

    /// <summary>Ticket numbers up to here may have been handed out; the next activation starts above it.</summary>
    [Id(3)] public long IssuedUpTo { get; set; }

    /// <summary>The same for pre-queue places.</summary>
    [Id(4)] public long PreIssuedUpTo { get; set; }

    /// <summary>Pre-queue places drawn at opening; their tickets are 1..PreQueueSize.</summary>
    [Id(5)] public long PreQueueSize { get; set; }
    [Id(6)] public ulong ShuffleSeed { get; set; }

    /// <summary>Every ticket at or below the cursor is admitted.</summary>
    [Id(7)] public long ServingCursor { get; set; }

    /// <summary>Admissions whose shopping session is not over yet, oldest first.</summary>
    [Id(8)] public List<AdmissionBatch> Batches { get; set; } = [];
    [Id(9)] public int NextBatchId { get; set; }

    /// <summary>When the event starts and sales close (null in state written before this was kept).</summary>
    [Id(10)] public DateTimeOffset? SalesCloseAt { get; set; }
}

/// <summary>
/// The tickets one tick admitted, (FromExclusive, ToInclusive], with counters of who showed up and who
/// is done. The queue's active-shopper count is derived from these, not from a list of users.
/// </summary>
[GenerateSerializer, Alias("tq.AdmissionBatch")]
public sealed class AdmissionBatch
{
    [Id(0)] public int Id { get; set; }
    [Id(1)] public long FromExclusive { get; set; }
    [Id(2)] public long ToInclusive { get; set; }
    [Id(3)] public DateTimeOffset AdmittedAt { get; set; }
    [Id(4)] public int Claimed { get; set; }
    [Id(5)] public int FinishedClaimed { get; set; }
    [Id(6)] public int FinishedUnclaimed { get; set; }

    /// <summary>Who was counted as claimed: one bit per ticket of the batch, so a claim told twice counts once.</summary>
    [Id(7)] public ulong[]? ClaimedTickets { get; set; }

    /// <summary>Who was counted as finished, the same way.</summary>
    [Id(8)] public ulong[]? FinishedTickets { get; set; }

    public long Count => ToInclusive - FromExclusive;

    /// <summary>Counts the ticket's holder as showed up, once; false when it changed nothing.</summary>
    public bool Claim(long ticket)
    {
        // A finished shopper has given their slot back: a late claim must not take it again.
        if (!Contains(ticket) || IsSet(FinishedTickets, ticket) || !Set(ClaimedTickets ??= NewBits(), ticket))
        {
            return false;
        }

        Claimed++;
        return true;
    }

    /// <summary>Whether this batch's shopping session is over at <paramref name="now"/>: nobody in it shops any more.</summary>
    public bool SessionOver(DateTimeOffset now, QueueSettings settings) => now >= AdmittedAt + settings.ShoppingSession;

    /// <summary>Whether this batch's claim window has closed at <paramref name="now"/>: only those who showed up still count.</summary>
    public bool ClaimWindowClosed(DateTimeOffset now, QueueSettings settings) => now >= AdmittedAt + settings.ClaimWindow;

    /// <summary>Whether the ticket's holder was counted as showed up.</summary>
    public bool IsClaimed(long ticket) => Contains(ticket) && IsSet(ClaimedTickets, ticket);

    /// <summary>Counts the ticket's holder as done, once; false when it changed nothing.</summary>
    public bool Finish(long ticket)
    {
        if (!Contains(ticket) || !Set(FinishedTickets ??= NewBits(), ticket))
        {
            return false;
        }

        if (IsSet(ClaimedTickets, ticket))
        {
            FinishedClaimed++;
        }
        else
        {
            FinishedUnclaimed++;
        }

        return true;
    }

    private bool Contains(long ticket) => ticket > FromExclusive && ticket <= ToInclusive;

    private ulong[] NewBits() => new ulong[(Count + 63) / 64];

    private bool IsSet(ulong[]? bits, long ticket)
    {
        var index = ticket - FromExclusive - 1;
        return bits is not null && (bits[index / 64] & (1UL << (int)(index % 64))) != 0;
    }

    // Sets the ticket's bit; false when it was set already.
    private bool Set(ulong[] bits, long ticket)
    {
        if (IsSet(bits, ticket))
        {
            return false;
        }

        var index = ticket - FromExclusive - 1;
        bits[index / 64] |= 1UL << (int)(index % 64);
        return true;
    }

    /// <summary>
    /// Inside the claim window everybody admitted counts unless done; after it, only those who showed
    /// up, so no-shows cannot stall the queue.
    /// </summary>
    public long ActiveAt(DateTimeOffset now, QueueSettings settings)
    {
        if (SessionOver(now, settings))
        {
            return 0;
        }

        // Never below zero, nor above the batch: counters a crash made count twice (a claim or a finish
        // told again) must not let one batch open slots for more shoppers than the limit, or hold more.
        var active = !ClaimWindowClosed(now, settings)
            ? Count - FinishedClaimed - FinishedUnclaimed
            : Claimed - FinishedClaimed;
        return Math.Clamp(active, 0, Count);
    }
}
