namespace TicketQueue.Grains.Hosting;

public static class StorageNames
{
    /// <summary>The grain storage every TicketQueue grain uses: memory when embedded, PostgreSQL in a cluster.</summary>
    public const string Default = "ticketqueue";
}
