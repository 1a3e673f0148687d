namespace TicketQueue.Grains.Queue;

/// <summary>Engine settings of every waiting room (per-event settings live in <see cref="QueueSettings"/>).</summary>
public sealed class QueueOptions
{
    /// <summary>How often the queue grain admits the next shoppers and tells the gateways.</summary>
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Ticket numbers reserved per storage write. A crash skips at most this many numbers (gaps,
    /// never duplicates); a larger block means fewer writes on a hot queue.
    /// </summary>
    public int TicketBlockSize { get; set; } = 100;

}
