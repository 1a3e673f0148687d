using Microsoft.AspNetCore.SignalR;

namespace TicketQueue.Gateway.Queue;

/// <summary>SignalR's user id is the access token's subject (the account id), so messages can address a user on any gateway.</summary>
public sealed class SubjectUserIdProvider : IUserIdProvider
{
    public string? GetUserId(HubConnectionContext connection) => connection.User.FindFirst("sub")?.Value;
}
