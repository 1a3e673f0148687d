using TicketQueue.Grains.Storage;

namespace TicketQueue.Grains.Tests.Storage;

/// <summary>
/// Group commit outside a grain. Each test runs on an exclusive scheduler, one piece at a time, as grain
/// code does on its activation, so the order of writes and awaits is deterministic.
/// </summary>
public sealed class GroupCommitTests
{
    private static Task OnOneThread(Func<Task> test) =>
        Task.Factory.StartNew(test, CancellationToken.None, TaskCreationOptions.None, new ConcurrentExclusiveSchedulerPair().ExclusiveScheduler).Unwrap();

    [Fact]
    public Task Changes_made_while_a_write_runs_share_the_next_write() => OnOneThread(async () =>
    {
        var storage = new ScriptedState();
        var commit = new GroupCommit<List<int>>(storage, s => [.. s], () => { });

        commit.Working.Add(1);
        var first = commit.Commit();
        commit.Working.Add(2);
        var second = commit.Commit();
        commit.Working.Add(3);
        var third = commit.Commit();

        storage.CompleteWrite();
        await first;
        Assert.False(second.IsCompleted);
        storage.CompleteWrite();
        await Task.WhenAll(second, third);

        Assert.Equal([[1], [1, 2, 3]], storage.Written);
    });

    [Fact]
    public Task A_failed_write_refuses_every_pending_change_forgets_them_and_tells_the_grain() => OnOneThread(async () =>
    {
        var storage = new ScriptedState();
        var failures = 0;
        var commit = new GroupCommit<List<int>>(storage, s => [.. s], () => failures++);
        commit.Working.Add(1);
        var durable = commit.Commit();
        storage.CompleteWrite();
        await durable;

        commit.Working.Add(2);
        var failing = commit.Commit();
        commit.Working.Add(3);
        var waitingBehind = commit.Commit();
        storage.FailWrite(new TimeoutException("storage is away"));

        await Assert.ThrowsAsync<TimeoutException>(() => failing);
        await Assert.ThrowsAsync<TimeoutException>(() => waitingBehind);
        Assert.Equal([1], commit.Working);
        // The grain hears of it once (it leaves: a lost answer may have left its version stale).
        Assert.Equal(1, failures);

        commit.Working.Add(4);
        var after = commit.Commit();
        storage.CompleteWrite();
        await after;
        Assert.Equal([1, 4], storage.Written[^1]);
    });

    [Fact]
    public Task Durable_waits_for_the_write_in_flight() => OnOneThread(async () =>
    {
        var storage = new ScriptedState();
        var commit = new GroupCommit<List<int>>(storage, s => [.. s], () => { });
        Assert.True(commit.Durable().IsCompleted);

        commit.Working.Add(1);
        _ = commit.Commit();
        var durable = commit.Durable();
        Assert.False(durable.IsCompleted);

        storage.CompleteWrite();
        await durable;
    });

    /// <summary>A persistent state whose writes finish when the test says so, recording what each wrote.</summary>
    private sealed class ScriptedState : IPersistentState<List<int>>
    {
        private readonly Queue<(TaskCompletionSource Done, List<int> Snapshot)> _writes = new();

        public List<int> State { get; set; } = [];

        public string? Etag => null;

        public bool RecordExists => Written.Count > 0;

        public List<List<int>> Written { get; } = [];

        public Task WriteStateAsync()
        {
            var write = new TaskCompletionSource();
            _writes.Enqueue((write, [.. State]));
            return write.Task;
        }

        public void CompleteWrite()
        {
            var (done, snapshot) = _writes.Dequeue();
            Written.Add(snapshot);
            done.SetResult();
        }

        public void FailWrite(Exception error) => _writes.Dequeue().Done.SetException(error);

        public Task ClearStateAsync() => throw new NotSupportedException();

        public Task ReadStateAsync() => throw new NotSupportedException();
    }
}
