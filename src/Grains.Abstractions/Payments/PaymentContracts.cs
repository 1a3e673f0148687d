namespace TicketQueue.Grains.Abstractions.Payments;

public enum SandboxPaymentStatus
{
    Approved = 0,
    Refunded = 1,
}

[GenerateSerializer, Immutable, Alias("tq.SandboxPayment")]
public sealed record SandboxPayment(
    [property: Id(0)] string PaymentId,
    [property: Id(1)] string Reference,
    [property: Id(2)] decimal Amount,
    [property: Id(3)] string Currency,
    [property: Id(4)] SandboxPaymentStatus Status,
    [property: Id(5)] DateTimeOffset ApprovedAt,
    [property: Id(6)] DateTimeOffset? RefundedAt);

/// <summary>
/// The sandbox payment company: one grain per payment id. A payment may be approved up front (the
/// browser paid at the provider and tells us its id) or captured by us on the spot.
/// </summary>
[Alias("tq.ISandboxPaymentGrain")]
public interface ISandboxPaymentGrain : IGrainWithStringKey
{
    /// <summary>Approves a payment for this reference and amount. Idempotent for the same reference.</summary>
    [Alias("Approve")] Task<SandboxPayment> Approve(string reference, decimal amount, string currency);

    [Alias("Get")] Task<SandboxPayment?> Get();

    [Alias("Refund")] Task<SandboxPayment> Refund();
}

public static class SandboxCheckout
{
    /// <summary>The id of the payment a buyer makes at the sandbox's checkout: one per reservation, so a double click pays once.</summary>
    public static string PaymentIdFor(Guid reservationId) => $"sbx_pay_{reservationId:N}";
}
