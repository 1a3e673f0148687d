using System.Diagnostics;
using Orleans;
using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.EndToEndBenchmark;

/// <summary>One update as an observer received it: what the queue grain sent, and when it arrived (a <see cref="Stopwatch"/> timestamp).</summary>
internal sealed record ReceivedUpdate(QueueUpdate Update, long ReceivedAt);

/// <summary>An admission batch as the observers saw it: tickets (From, To] admitted at one tick.</summary>
internal sealed record AdmissionBatch(long FromExclusive, long ToInclusive, DateTimeOffset AdmittedAt, long LastIssued, long ReceivedAt)
{
    public long Size => ToInclusive - FromExclusive;

    /// <summary>People still waiting right after this batch: then the admission rate, not the line, set its size.</summary>
    public long BacklogAfter => LastIssued - ToInclusive;
}

/// <summary>
/// Listens to one event's queue grain as a gateway does (<see cref="IQueueObserver"/>, renewed every 30 s, as
/// <c>QueueFanout</c> does) and keeps every update it receives, in the order it received them.
/// </summary>
internal sealed class QueueWatcher(IGrainFactory grains, string eventId) : IQueueObserver, IAsyncDisposable
{
    private static readonly TimeSpan ResubscribeEvery = TimeSpan.FromSeconds(30);

    private readonly List<ReceivedUpdate> _updates = [];
    private readonly CancellationTokenSource _stopping = new();
    private IQueueObserver? _reference;
    private Task? _resubscribing;
    private long _latestCursor;

    /// <summary>The serving cursor of the latest update received.</summary>
    public long LatestCursor => Interlocked.Read(ref _latestCursor);

    public IReadOnlyList<ReceivedUpdate> Updates
    {
        get
        {
            lock (_updates)
            {
                return [.. _updates];
            }
        }
    }

    public async Task Start()
    {
        _reference = grains.CreateObjectReference<IQueueObserver>(this);
        await Queue.Subscribe(_reference);
        _resubscribing = Resubscribe(_stopping.Token);
    }

    public Task OnQueueUpdate(QueueUpdate update)
    {
        lock (_updates)
        {
            _updates.Add(new ReceivedUpdate(update, Stopwatch.GetTimestamp()));
        }

        Interlocked.Exchange(ref _latestCursor, update.ServingCursor);
        return Task.CompletedTask;
    }

    /// <summary>Each time the serving cursor arrived lower than in the update before it (must be none).</summary>
    public int CursorDecreases()
    {
        var updates = Updates;
        return updates.Zip(updates.Skip(1)).Count(pair => pair.Second.Update.ServingCursor < pair.First.Update.ServingCursor);
    }

    /// <summary>The updates that admitted someone (a tick that moved the cursor), in the order received.</summary>
    public IReadOnlyList<AdmissionBatch> Batches() =>
        [.. Updates.Where(u => u.Update.AdmittedAt is not null)
            .Select(u => new AdmissionBatch(u.Update.AdmittedFromExclusive, u.Update.ServingCursor, u.Update.AdmittedAt!.Value, u.Update.LastIssued, u.ReceivedAt))];

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        if (_resubscribing is not null)
        {
            await _resubscribing.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        if (_reference is not null)
        {
            await Queue.Unsubscribe(_reference);
            grains.DeleteObjectReference<IQueueObserver>(_reference);
        }

        _stopping.Dispose();
    }

    private IEventQueueGrain Queue => grains.GetGrain<IEventQueueGrain>(eventId);

    // The queue grain forgets observers that do not renew within two minutes; a run lasts longer than that.
    private async Task Resubscribe(CancellationToken stopping)
    {
        using var timer = new PeriodicTimer(ResubscribeEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    await Queue.Subscribe(_reference!);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // The checks will show what was missed; the next round tries again.
                    Console.Error.WriteLine($"  renewing a queue subscription failed: {e.GetType().Name}: {e.Message}");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
