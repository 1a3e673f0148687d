namespace TicketQueue.Grains.Storage;

/// <summary>
/// Group commit for a reentrant grain's <see cref="IPersistentState{TState}"/>. The grain changes
/// <see cref="Working"/>, a copy of its state, and awaits <see cref="Commit"/> before answering: the
/// write that follows carries every change made while the previous write ran, so a hot grain writes
/// once per storage round trip, not once per request.
/// </summary>
/// <remarks>
/// Each write stores a snapshot taken on the grain's thread, never the working copy itself: storage
/// providers may serialize on another thread, while the grain goes on changing its copy. When a write
/// fails, the working copy goes back to the last durable snapshot and every change not yet durable is
/// refused with the error, so nothing a caller was not told about can be written later; and the grain is
/// told (<c>writeFailed</c>, usually its DeactivateOnIdle), since a write whose answer was lost may have
/// landed, leaving this activation's version stamp stale: every later write would be refused until it went.
/// </remarks>
public sealed class GroupCommit<TState>
    where TState : class
{
    private readonly IPersistentState<TState> _state;
    private readonly Func<TState, TState> _copy;
    private readonly Action _writeFailed;
    private TState _durable;
    private TaskCompletionSource? _next;
    private TaskCompletionSource? _running;

    public GroupCommit(IPersistentState<TState> state, Func<TState, TState> copy, Action writeFailed)
    {
        _state = state;
        _copy = copy;
        _writeFailed = writeFailed;
        _durable = state.State;
        Working = copy(state.State);
    }

    /// <summary>The state the grain reads and changes.</summary>
    public TState Working { get; private set; }

    /// <summary>Completes once a write that includes every change made so far is durable.</summary>
    public Task Commit()
    {
        var next = _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_running is null)
        {
            _ = WriteLoop();
        }

        return next.Task;
    }

    /// <summary>Completes once every change made so far is durable, without asking for a write of its own.</summary>
    public Task Durable() => _next?.Task ?? _running?.Task ?? Task.CompletedTask;

    private async Task WriteLoop()
    {
        while (_next is { } batch)
        {
            _next = null;
            _running = batch;
            _state.State = _copy(Working);
            try
            {
                await _state.WriteStateAsync();
            }
            catch (Exception e)
            {
                Working = _copy(_durable);
                _writeFailed();
                _next?.TrySetException(e);
                _next = null;
                _running = null;
                batch.TrySetException(e);
                return;
            }

            _durable = _state.State;
            _running = null;
            batch.TrySetResult();
        }
    }
}
