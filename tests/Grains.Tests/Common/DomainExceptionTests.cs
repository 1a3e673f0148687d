using TicketQueue.Grains.Abstractions.Reservations;

namespace TicketQueue.Grains.Tests.Common;

[Collection(ClusterCollection.Name)]
public sealed class DomainExceptionTests(ClusterFixture fixture)
{
    [Fact]
    public async Task Domain_errors_cross_the_grain_boundary_intact()
    {
        var definition = await fixture.CreateEvent(ticketLimitPerUser: 2);
        var user = fixture.Grains.GetGrain<IUserReservationsGrain>(Guid.NewGuid());

        // Thrown two grain calls away (user reservations -> client) and with every field set.
        var error = await Assert.ThrowsAsync<DomainException>(() => user.Reserve(definition.EventId, TestEvents.BlockId, null, 3, null).Reserved());

        Assert.Equal(DomainErrorKind.Conflict, error.Kind);
        Assert.Equal("ticket-limit-exceeded", error.Code);
        Assert.Equal("quantity", error.Field);
        Assert.Equal("At most 2 tickets per person for this event; you already hold 0.", error.Detail);
        Assert.Equal(error.Detail, error.Message);
    }

    [Fact]
    public async Task Domain_errors_from_deeper_grains_keep_their_code()
    {
        var definition = await fixture.CreateEvent();
        var user = fixture.Grains.GetGrain<IUserReservationsGrain>(Guid.NewGuid());

        // Raised by the seat block (a malformed request, not a refusal), passed on by the user's grain.
        var error = await Assert.ThrowsAsync<DomainException>(() => user.Reserve(definition.EventId, TestEvents.BlockId, ["Z-99"], null, null).Reserved());

        Assert.Equal(DomainErrorKind.Invalid, error.Kind);
        Assert.Equal("unknown-seat", error.Code);
        Assert.Equal("seatIds", error.Field);
    }
}
