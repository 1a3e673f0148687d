using System.Collections.Concurrent;

namespace TicketQueue.Grains.Tests;

/// <summary>
/// Tells a test when a call about a user has reached a grain: the call is then that activation's to answer,
/// whatever happens to it next. For tests that must not race a call against what they do next.
/// </summary>
public sealed class GrainCallWatch : IIncomingGrainCallFilter
{
    private readonly ConcurrentDictionary<(string Method, Guid User), TaskCompletionSource> _entered = new();

    /// <summary>Completes once a call to <paramref name="method"/> whose first argument is <paramref name="userId"/> has entered its grain.</summary>
    public Task Entered(string method, Guid userId) => Signal(method, userId).Task;

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.Request.GetArgumentCount() > 0 && context.Request.GetArgument(0) is Guid userId)
        {
            Signal(context.MethodName, userId).TrySetResult();
        }

        return context.Invoke();
    }

    private TaskCompletionSource Signal(string method, Guid userId) =>
        _entered.GetOrAdd((method, userId), _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}
