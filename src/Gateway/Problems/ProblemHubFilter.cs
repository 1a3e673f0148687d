using Microsoft.AspNetCore.SignalR;

namespace TicketQueue.Gateway.Problems;

/// <summary>
/// SignalR shows clients the message of a <see cref="HubException"/> only; anything else arrives as
/// "An unexpected error occurred". A refused hub call (unknown event, forged or stale ticket) therefore
/// becomes a HubException whose message starts with the problem code, as in
/// "invalid-ticket: The token's signature is not valid.", so the browser can tell what went wrong.
/// </summary>
public sealed class ProblemHubFilter : IHubFilter
{
    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        try
        {
            return await next(invocationContext);
        }
        catch (DomainException e)
        {
            throw new HubException($"{e.Code}: {e.Detail}");
        }
    }
}
