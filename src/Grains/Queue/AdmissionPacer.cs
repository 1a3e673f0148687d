using TicketQueue.Grains.Abstractions.Events;

namespace TicketQueue.Grains.Queue;

/// <summary>
/// What one admission tick decides, apart from the grain that stores and announces it: the batches whose
/// shopping session is over are forgotten, credit accrues at the configured rate, and the cursor moves by
/// <c>min(credit, maxActiveShoppers − active, waiting)</c>. It reads counters and the batches of the last
/// shopping session, never a list of users, so its cost does not depend on how many people wait
/// (bench/TickBenchmark measures that).
/// </summary>
public sealed class AdmissionPacer(TimeSpan tickInterval)
{
    private double _credit;

    /// <summary>One tick at <paramref name="now"/>, <paramref name="elapsed"/> after the previous one.</summary>
    /// <param name="lastIssued">The last ticket number handed out: everyone above the cursor up to it waits.</param>
    public AdmissionTickResult Tick(EventQueueState state, QueueSettings settings, long lastIssued, DateTimeOffset now, TimeSpan elapsed)
    {
        var pruned = PruneBatches(state, settings, now);
        // After the event started nobody admitted could buy (holds are refused): the line stops.
        if (!state.Opened || settings.Paused || state.SalesCloseAt <= now)
        {
            return new AdmissionTickResult(pruned, null);
        }

        // Credit accrues at the configured rate; the cap keeps a long idle spell from turning into one
        // large burst.
        var perSecond = settings.AdmissionsPerMinute / 60.0;
        var cap = Math.Max(1.0, perSecond * tickInterval.TotalSeconds * 2);
        _credit = Math.Min(cap, _credit + perSecond * Math.Max(0, elapsed.TotalSeconds));

        var waiting = lastIssued - state.ServingCursor;
        var freeSlots = settings.MaxActiveShoppers - ActiveShoppers(state.Batches, settings, now);
        var admit = Math.Min(Math.Min((long)_credit, freeSlots), waiting);
        // The line is held back by the cap, not by the rate: every slot is taken and people still wait.
        var shoppersFull = freeSlots - Math.Max(0, admit) <= 0 && waiting - Math.Max(0, admit) > 0;
        if (admit <= 0)
        {
            return new AdmissionTickResult(pruned, null, shoppersFull);
        }

        var batch = new AdmissionBatch
        {
            Id = ++state.NextBatchId,
            FromExclusive = state.ServingCursor,
            ToInclusive = state.ServingCursor + admit,
            AdmittedAt = now,
        };
        state.ServingCursor = batch.ToInclusive;
        _credit -= admit;
        state.Batches.Add(batch);
        return new AdmissionTickResult(pruned, batch, shoppersFull);
    }

    /// <summary>
    /// How fast the line moves while the active-shopper cap holds it back: the admissions of the last
    /// minute, but never less than every slot turning over once per shopping session (each session ends
    /// by then), and never more than the configured rate.
    /// </summary>
    public static double CappedPacePerMinute(List<AdmissionBatch> batches, QueueSettings settings, DateTimeOffset now)
    {
        long lastMinute = 0;
        for (var i = batches.Count - 1; i >= 0 && batches[i].AdmittedAt > now - TimeSpan.FromMinutes(1); i--)
        {
            lastMinute += batches[i].ToInclusive - batches[i].FromExclusive;
        }

        var turnover = settings.MaxActiveShoppers / Math.Max(settings.ShoppingSession.TotalMinutes, 1.0 / 60);
        return Math.Min(settings.AdmissionsPerMinute, Math.Max(lastMinute, turnover));
    }

    /// <summary>Shoppers who count against <see cref="QueueSettings.MaxActiveShoppers"/> at <paramref name="now"/>.</summary>
    public static long ActiveShoppers(List<AdmissionBatch> batches, QueueSettings settings, DateTimeOffset now)
    {
        long active = 0;
        foreach (var batch in batches)
        {
            active += batch.ActiveAt(now, settings);
        }

        return active;
    }

    // Batches are oldest first, so the ones whose session is over are a prefix.
    private static bool PruneBatches(EventQueueState state, QueueSettings settings, DateTimeOffset now)
    {
        var expired = 0;
        while (expired < state.Batches.Count && state.Batches[expired].SessionOver(now, settings))
        {
            expired++;
        }

        if (expired == 0)
        {
            return false;
        }

        state.Batches.RemoveRange(0, expired);
        return true;
    }
}

/// <summary>
/// What a tick changed: whether it forgot finished batches (the state must be written some time), the
/// batch it admitted, if any (the state must be written before anyone is told), and whether the
/// active-shopper cap, rather than the rate, is what holds the line back.
/// </summary>
public readonly record struct AdmissionTickResult(bool Pruned, AdmissionBatch? Admitted, bool ShoppersFull = false);
