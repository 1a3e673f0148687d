using TicketQueue.Grains.Abstractions.Reservations;

namespace TicketQueue.Grains.Tests;

internal static class ReservationOutcomes
{
    /// <summary>The reservation, or the seat block's refusal thrown as the 409 the gateway would answer.</summary>
    public static async Task<ReservationView> Reserved(this Task<ReservationOutcome> attempt) => (await attempt).ReservedOrThrow();
}
