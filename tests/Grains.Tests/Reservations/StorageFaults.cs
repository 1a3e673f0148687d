using Orleans.Storage;

namespace TicketQueue.Grains.Tests.Reservations;

/// <summary>Which writes of the fixture's reservation storage fail, as a database that is away would fail them.</summary>
public sealed class StorageFaults
{
    private volatile Fault? _fault;

    /// <summary>
    /// Fails every write the predicate (state name, grain, state being written) picks, until disposed. With
    /// <paramref name="afterWriting"/> the write lands and only its answer is lost, as when the database
    /// committed but the connection dropped (or the silo died) before the caller heard.
    /// </summary>
    public IDisposable FailWrites(Func<string, GrainId, object?, bool> which, bool afterWriting = false)
    {
        _fault = new Fault(which, afterWriting);
        return new Healed(this);
    }

    /// <summary>Fails the writes of one grain's state <paramref name="stateName"/>, until disposed (see <see cref="FailWrites"/>).</summary>
    public IDisposable FailWritesOf(string stateName, GrainId grain, bool afterWriting = false) =>
        FailWrites((name, grainId, _) => name == stateName && grainId == grain, afterWriting);

    private volatile HeldWrites? _held;

    /// <summary>Holds every write the predicate picks (a slow database) until the returned gate is released.</summary>
    public HeldWrites HoldWrites(Func<string, GrainId, bool> which) => _held = new HeldWrites(which, () => _held = null);

    internal Task Held(string stateName, GrainId grainId) =>
        _held is { } held && held.Which(stateName, grainId) ? held.Wait() : Task.CompletedTask;

    public sealed class HeldWrites(Func<string, GrainId, bool> which, Action healed) : IDisposable
    {
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

        internal Func<string, GrainId, bool> Which { get; } = which;

        /// <summary>Completes when a held write has started.</summary>
        public Task Entered => _entered.Task;

        internal Task Wait()
        {
            _entered.TrySetResult();
            return _released.Task;
        }

        /// <summary>Lets held writes go on, and holds no more.</summary>
        public void Dispose()
        {
            healed();
            _released.TrySetResult();
        }
    }

    internal WriteFault For(string stateName, GrainId grainId, object? state) =>
        _fault is { } fault && fault.Which(stateName, grainId, state)
            ? fault.AfterWriting ? WriteFault.AnswerLost : WriteFault.NotWritten
            : WriteFault.None;

    private sealed record Fault(Func<string, GrainId, object?, bool> Which, bool AfterWriting);

    private sealed class Healed(StorageFaults faults) : IDisposable
    {
        public void Dispose() => faults._fault = null;
    }
}

internal enum WriteFault { None, NotWritten, AnswerLost }

/// <summary>The in-memory grain storage, with writes that fail when <see cref="StorageFaults"/> says so.</summary>
public sealed class FaultyGrainStorage(IGrainStorage inner, StorageFaults faults) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await faults.Held(stateName, grainId);
        var fault = faults.For(stateName, grainId, grainState.State);
        if (fault == WriteFault.NotWritten)
        {
            throw new OrleansException($"Storage is unreachable (injected) for {stateName} of {grainId}.");
        }

        var knownVersion = grainState.ETag;
        await inner.WriteStateAsync(stateName, grainId, grainState);
        if (fault == WriteFault.AnswerLost)
        {
            // The grain never heard of the version its write made, as with a real database.
            grainState.ETag = knownVersion;
            throw new OrleansException($"The answer to a write of {stateName} of {grainId} was lost (injected).");
        }
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ClearStateAsync(stateName, grainId, grainState);
}
