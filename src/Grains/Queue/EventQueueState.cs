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

    public long Count => ToInclusive - FromExclusive;

    /// <summary>
    /// Inside the claim window everybody admitted counts unless done; after it, only those who showed
    /// up, so no-shows cannot stall the queue.
    /// </summary>
    public long ActiveAt(DateTimeOffset now, QueueSettings settings)
    {
        if (now >= AdmittedAt + settings.ShoppingSession)
        {
            return 0;
        }

        // Never below zero, nor above the batch: counters a crash made count twice (a claim or a finish
        // told again) must not let one batch open slots for more shoppers than the limit, or hold more.
        var active = now < AdmittedAt + settings.ClaimWindow
            ? Count - FinishedClaimed - FinishedUnclaimed
            : Claimed - FinishedClaimed;
        return Math.Clamp(active, 0, Count);
    }
}
