using Orleans.Storage;

namespace TicketQueue.Grains.Tests.Reservations;

/// <summary>Which writes of the fixture's reservation storage fail, as a database that is away would fail them.</summary>
public sealed class StorageFaults
{
    private volatile Func<string, GrainId, object?, bool>? _failWrite;

    /// <summary>Fails every write the predicate (state name, grain, state being written) picks, until disposed.</summary>
    public IDisposable FailWrites(Func<string, GrainId, object?, bool> which)
    {
        _failWrite = which;
        return new Healed(this);
    }

    internal bool Fails(string stateName, GrainId grainId, object? state) => _failWrite?.Invoke(stateName, grainId, state) ?? false;

    private sealed class Healed(StorageFaults faults) : IDisposable
    {
        public void Dispose() => faults._failWrite = null;
    }
}

/// <summary>The in-memory grain storage, with writes that fail when <see cref="StorageFaults"/> says so.</summary>
public sealed class FaultyGrainStorage(IGrainStorage inner, StorageFaults faults) : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ReadStateAsync(stateName, grainId, grainState);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        faults.Fails(stateName, grainId, grainState.State)
            ? Task.FromException(new OrleansException($"Storage is unreachable (injected) for {stateName} of {grainId}."))
            : inner.WriteStateAsync(stateName, grainId, grainState);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        inner.ClearStateAsync(stateName, grainId, grainState);
}
