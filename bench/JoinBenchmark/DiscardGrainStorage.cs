using Orleans.Runtime;
using Orleans.Storage;

namespace TicketQueue.JoinBenchmark;

/// <summary>
/// Grain storage that keeps nothing: reads find no record, writes succeed. Only for separating the
/// memory of the grains' own state from the copy a storage provider keeps.
/// </summary>
internal sealed class DiscardGrainStorage : IGrainStorage
{
    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => Task.CompletedTask;

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        grainState.ETag = "discarded";
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }
}
