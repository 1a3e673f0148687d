using TicketQueue.Grains.Abstractions.Payments;
using TicketQueue.Grains.Hosting;

namespace TicketQueue.Grains.Payments;

/// <summary>The sandbox provider: approves every well-formed payment, refunds on request, keeps a record.</summary>
public sealed class SandboxPaymentProvider(IGrainFactory grains) : IPaymentProvider
{
    public const string ProviderName = "sandbox";

    public string Name => ProviderName;

    /// <summary>The id the sandbox gives the payment of a reservation, so a retried capture finds it again.</summary>
    public static string PaymentIdFor(Guid reservationId) => $"sbx_{reservationId:N}";

    public async Task<PaymentCapture> Capture(PaymentCaptureRequest request)
    {
        var reference = request.ReservationId.ToString();
        if (request.PaymentId is null)
        {
            // The buyer may have paid at the checkout already and only the id got lost: that payment is
            // this reservation's, and charging again would take the money twice.
            var checkout = await grains.GetGrain<ISandboxPaymentGrain>(SandboxCheckout.PaymentIdFor(request.ReservationId)).Get();
            if (checkout is { Status: SandboxPaymentStatus.Approved } && checkout.Reference == reference
                && checkout.Amount == request.Amount && checkout.Currency == request.Currency)
            {
                return new PaymentCapture(checkout.PaymentId, checkout.Amount, checkout.ApprovedAt);
            }

            var approved = await grains.GetGrain<ISandboxPaymentGrain>(PaymentIdFor(request.ReservationId))
                .Approve(reference, request.Amount, request.Currency);
            return new PaymentCapture(approved.PaymentId, approved.Amount, approved.ApprovedAt);
        }

        // The buyer paid at the provider first: trust nothing they say, ask the provider.
        var payment = await grains.GetGrain<ISandboxPaymentGrain>(request.PaymentId).Get()
            ?? throw DomainException.Invalid("payment-not-found", $"The sandbox has no payment '{request.PaymentId}'.", "paymentId");
        if (payment.Reference != reference || payment.Amount != request.Amount || payment.Currency != request.Currency)
        {
            throw DomainException.Invalid("payment-mismatch", "That payment was made for another reservation or amount.", "paymentId");
        }

        if (payment.Status == SandboxPaymentStatus.Refunded)
        {
            throw DomainException.Conflict(PaymentProblems.Refunded, "That payment was refunded.", "paymentId");
        }

        return new PaymentCapture(payment.PaymentId, payment.Amount, payment.ApprovedAt);
    }

    public async Task<PaymentCapture?> Find(Guid reservationId, string? paymentId)
    {
        if (paymentId is not null)
        {
            return await Live(reservationId, paymentId);
        }

        // A capture without a payment id takes the checkout's payment if there is one (see Capture).
        return await Live(reservationId, PaymentIdFor(reservationId)) ?? await Live(reservationId, SandboxCheckout.PaymentIdFor(reservationId));
    }

    public async Task<IReadOnlyList<PaymentCapture>> PaymentsFor(Guid reservationId)
    {
        var found = new List<PaymentCapture>();
        foreach (var paymentId in new[] { PaymentIdFor(reservationId), SandboxCheckout.PaymentIdFor(reservationId) })
        {
            if (await Live(reservationId, paymentId) is { } payment)
            {
                found.Add(payment);
            }
        }

        return found;
    }

    private async Task<PaymentCapture?> Live(Guid reservationId, string paymentId)
    {
        var payment = await grains.GetGrain<ISandboxPaymentGrain>(paymentId).Get();
        return payment is { Status: SandboxPaymentStatus.Approved } && payment.Reference == reservationId.ToString()
            ? new PaymentCapture(payment.PaymentId, payment.Amount, payment.ApprovedAt)
            : null;
    }

    public async Task Refund(string paymentId) =>
        await grains.GetGrain<ISandboxPaymentGrain>(paymentId).Refund();
}

[GenerateSerializer, Alias("tq.SandboxPaymentState")]
public sealed class SandboxPaymentState
{
    [Id(0)] public SandboxPayment? Payment { get; set; }
}

public sealed class SandboxPaymentGrain(
    [PersistentState("sandboxPayment", StorageNames.Payments)] IPersistentState<SandboxPaymentState> state,
    TimeProvider time)
    : Grain, ISandboxPaymentGrain
{
    public async Task<SandboxPayment> Approve(string reference, decimal amount, string currency)
    {
        if (state.State.Payment is { } existing)
        {
            return existing.Reference == reference && existing.Amount == amount
                ? existing
                : throw DomainException.Conflict("payment-exists", "This payment id is taken.", "paymentId");
        }

        if (amount <= 0)
        {
            throw DomainException.Invalid("amount-out-of-range", "A payment must be for a positive amount.", "amount");
        }

        return await Store(new SandboxPayment(this.GetPrimaryKeyString(), reference, amount, currency,
            SandboxPaymentStatus.Approved, time.GetUtcNow(), null));
    }

    public Task<SandboxPayment?> Get() => Task.FromResult(state.State.Payment);

    public async Task<SandboxPayment> Refund()
    {
        var payment = state.State.Payment
            ?? throw DomainException.NotFound("payment-not-found", "There is no such payment.");
        if (payment.Status == SandboxPaymentStatus.Refunded)
        {
            return payment;
        }

        return await Store(payment with { Status = SandboxPaymentStatus.Refunded, RefundedAt = time.GetUtcNow() });
    }

    // A change that was not stored is not kept: a refund that failed to write must not answer "refunded"
    // to the retry, while storage still says the money is taken.
    private async Task<SandboxPayment> Store(SandboxPayment payment)
    {
        var before = state.State.Payment;
        state.State.Payment = payment;
        try
        {
            await this.WriteOrLeave(state);
        }
        catch
        {
            state.State.Payment = before;
            throw;
        }

        return payment;
    }
}
