namespace TicketQueue.Grains.Hosting;

/// <summary>
/// The grain storage providers, one per service of the original design. Embedded, each is in memory; in a
/// cluster, each is a table of the same name in that service's PostgreSQL schema (see init-db.sql).
/// </summary>
public static class StorageNames
{
    /// <summary>Accounts and sign-in sessions: schema <c>user_service</c>.</summary>
    public const string Accounts = "accounts";

    /// <summary>The event catalogue and each event's queue counters: schema <c>event_service</c>.</summary>
    public const string Events = "events";

    /// <summary>Seat blocks, reservations and each user's reservations: schema <c>reservation_service</c>.</summary>
    public const string Reservations = "reservations";

    /// <summary>Payments at the sandbox provider: schema <c>payment_service</c>.</summary>
    public const string Payments = "payments";

    /// <summary>Each provider and the PostgreSQL schema that holds its table.</summary>
    public static IReadOnlyDictionary<string, string> Schemas { get; } = new Dictionary<string, string>
    {
        [Accounts] = "user_service",
        [Events] = "event_service",
        [Reservations] = "reservation_service",
        [Payments] = "payment_service",
    };
}
