using System.Collections.Concurrent;

namespace TicketQueue.Grains.Tests;

/// <summary>
/// Tells a test when a call about a user has reached a grain: the call is then that activation's to answer,
/// whatever happens to it next. For tests that must not race a call against what they do next. It can also
/// hold back the answer of a grain's call to another grain, so the caller waits on it while the test acts.
/// </summary>
public sealed class GrainCallWatch : IIncomingGrainCallFilter, IOutgoingGrainCallFilter
{
    private readonly ConcurrentDictionary<(string Method, Guid User), TaskCompletionSource> _entered = new();
    private readonly ConcurrentQueue<(GrainId Target, string Method, HeldAnswer Held)> _holds = new();
    private readonly ConcurrentDictionary<(string Method, Guid User), object?[]> _arguments = new();

    /// <summary>Completes once a call to <paramref name="method"/> whose first argument is <paramref name="userId"/> has entered its grain.</summary>
    public Task Entered(string method, Guid userId) => Signal(method, userId).Task;

    /// <summary>The arguments of the last call to <paramref name="method"/> about <paramref name="userId"/> that entered its grain.</summary>
    public object?[]? LastArguments(string method, Guid userId) => _arguments.GetValueOrDefault((method, userId));

    public Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.Request.GetArgumentCount() > 0 && context.Request.GetArgument(0) is Guid userId)
        {
            _arguments[(context.MethodName, userId)] = [.. Enumerable.Range(0, context.Request.GetArgumentCount()).Select(context.Request.GetArgument)];
            Signal(context.MethodName, userId).TrySetResult();
        }

        return context.Invoke();
    }

    /// <summary>
    /// Holds the answer of the next call to <paramref name="method"/> of <paramref name="target"/> made by a
    /// grain: the call runs, and its caller sees the answer only once the test releases it.
    /// </summary>
    public HeldAnswer HoldNextAnswer(GrainId target, string method)
    {
        var held = new HeldAnswer();
        _holds.Enqueue((target, method, held));
        return held;
    }

    async Task IOutgoingGrainCallFilter.Invoke(IOutgoingGrainCallContext context)
    {
        await context.Invoke();
        if (_holds.TryPeek(out var next) && next.Target == context.TargetId && next.Method == context.MethodName && _holds.TryDequeue(out var hold))
        {
            hold.Held.Reached.TrySetResult();
            await hold.Held.Released.Task;
        }
    }

    private TaskCompletionSource Signal(string method, Guid userId) =>
        _entered.GetOrAdd((method, userId), _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
}

public sealed class HeldAnswer
{
    internal TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the held call has been answered and its caller is waiting.</summary>
    public Task Entered => Reached.Task;

    public void Release() => Released.TrySetResult();
}
