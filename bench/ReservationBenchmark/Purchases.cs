using System.Diagnostics;
using Orleans;
using TicketQueue.Grains.Abstractions.Common;
using TicketQueue.Grains.Abstractions.Queue;
using TicketQueue.Grains.Abstractions.Reservations;
using TicketQueue.Grains.Payments;

namespace TicketQueue.ReservationBenchmark;

internal enum PurchaseKind
{
    Confirmed,

    /// <summary>The block said no, as it must once seats run out: see <see cref="Purchases.RefusalCodes"/>.</summary>
    Refused,
    NotAdmitted,
    HoldFailed,
    PayFailed,
}

/// <summary>
/// One purchase attempt: how it ended, its reservation, how long the hold (or the refusal) and the payment
/// took, when the block answered (a <see cref="Stopwatch"/> timestamp), and for a refusal its problem code.
/// </summary>
internal sealed record Purchase(
    PurchaseKind Kind, Guid ReservationId, long HoldTicks, long PayTicks, string? Error, long AnsweredAt = 0, string? RefusalCode = null);

/// <summary>What the gateway does for a purchase, done by many buyers at once through the real grains.</summary>
internal static class Purchases
{
    public const string NotEnoughSeats = "not-enough-seats";
    public const string SeatsUnavailable = "seats-unavailable";

    /// <summary>The problem codes a seat block answers when the seats asked for are gone (409).</summary>
    public static readonly string[] RefusalCodes = [NotEnoughSeats, SeatsUnavailable];

    /// <summary>Joins every user and waits until the queue has admitted them all.</summary>
    public static async Task Admit(IGrainFactory grains, string eventId, Guid[] userIds)
    {
        await Parallel.ForAsync(0, userIds.Length, new ParallelOptions { MaxDegreeOfParallelism = 256 }, async (i, _) => await QueueShards.For(grains, eventId, userIds[i]).Join(userIds[i]));
        var queue = grains.GetGrain<IEventQueueGrain>(eventId);
        var deadline = Stopwatch.StartNew();
        while ((await queue.GetStats()).Admitted < userIds.Length)
        {
            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new InvalidOperationException("The queue did not admit every user within 60 s.");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>Every request once, <paramref name="buyers"/> at a time; progress every 10 s on stderr.</summary>
    public static async Task<Purchase[]> Run(IGrainFactory grains, string eventId, BuyerRequest[] requests, int buyers, bool progress)
    {
        var outcomes = new Purchase[requests.Length];
        var done = 0;
        using var finished = new CancellationTokenSource();
        var reporter = progress ? Report(finished.Token) : Task.CompletedTask;

        await Parallel.ForAsync(0, requests.Length, new ParallelOptions { MaxDegreeOfParallelism = buyers }, async (i, _) =>
        {
            outcomes[i] = await Buy(grains, eventId, requests[i]);
            Interlocked.Increment(ref done);
        });

        await finished.CancelAsync();
        await reporter;
        return outcomes;

        async Task Report(CancellationToken token)
        {
            var watch = Stopwatch.StartNew();
            try
            {
                while (true)
                {
                    await Task.Delay(TimeSpan.FromSeconds(10), token);
                    Console.Error.WriteLine($"  ... {Volatile.Read(ref done):N0} purchase attempts done after {watch.Elapsed.TotalSeconds:F0} s");
                }
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    // What the gateway does for one purchase: POST /reservations (claim, then reserve), then POST .../payment.
    private static async Task<Purchase> Buy(IGrainFactory grains, string eventId, BuyerRequest request)
    {
        var started = Stopwatch.GetTimestamp();
        ReservationView view;
        try
        {
            var place = await QueueShards.For(grains, eventId, request.UserId).Claim(request.UserId);
            if (place is not { Status: QueueStatusKind.Admitted })
            {
                return new Purchase(PurchaseKind.NotAdmitted, Guid.Empty, 0, 0, $"queue status {place?.Status.ToString() ?? "none"}");
            }

            var outcome = await grains.GetGrain<IUserReservationsGrain>(request.UserId)
                .Reserve(eventId, request.BlockId, request.SeatIds, request.Quantity, idempotencyKey: null);
            if (outcome.Refusal is { } refusal)
            {
                var refusedAt = Stopwatch.GetTimestamp();
                return new Purchase(PurchaseKind.Refused, Guid.Empty, refusedAt - started, 0, null, refusedAt, refusal.Code);
            }

            view = outcome.ReservedOrThrow();
        }
        catch (Exception e)
        {
            return new Purchase(PurchaseKind.HoldFailed, Guid.Empty, 0, 0, FirstLine(e));
        }

        var heldAt = Stopwatch.GetTimestamp();
        try
        {
            var paid = await grains.GetGrain<IReservationGrain>(view.ReservationId)
                .Pay(new PaymentCommand(request.UserId, SandboxPaymentProvider.ProviderName, PaymentId: null));
            return paid.Status == ReservationStatus.Confirmed
                ? new Purchase(PurchaseKind.Confirmed, view.ReservationId, heldAt - started, Stopwatch.GetTimestamp() - heldAt, null, heldAt)
                : new Purchase(PurchaseKind.PayFailed, view.ReservationId, heldAt - started, 0, $"status {paid.Status} after Pay", heldAt);
        }
        catch (Exception e)
        {
            return new Purchase(PurchaseKind.PayFailed, view.ReservationId, heldAt - started, 0, FirstLine(e), heldAt);
        }
    }

    // Orleans wraps storage errors with the whole inner stack trace in the message; the first line names the cause.
    private static string FirstLine(Exception e) => $"{e.GetType().Name}: {e.Message.Split('\n')[0].TrimEnd()}" +
        (e.InnerException is { } inner ? $" <- {inner.GetType().Name}: {inner.Message.Split('\n')[0].TrimEnd()}" : "");
}
