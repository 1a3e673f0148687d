namespace TicketQueue.Grains.Hosting;

public static class GrainStateWrites
{
    /// <summary>
    /// Writes the grain's state; when the write fails, the activation goes, so the next call reads what
    /// storage holds instead of answering from a change that was never stored.
    /// </summary>
    public static async Task WriteOrLeave<T>(this Grain grain, IPersistentState<T> state)
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            grain.DeactivateOnIdle();
            throw;
        }
    }
}
