namespace TicketQueue.Grains.Payments;

public sealed record PaymentCaptureRequest(Guid ReservationId, decimal Amount, string Currency, string? PaymentId);

public sealed record PaymentCapture(string PaymentId, decimal Amount, DateTimeOffset ApprovedAt);

/// <summary>
/// A payment company as the reservation grain sees it. Implementations must be idempotent per
/// reservation: capturing twice for the same reservation returns the same payment.
/// </summary>
public interface IPaymentProvider
{
    string Name { get; }

    /// <summary>
    /// Captures the amount, or verifies a payment the buyer already made at the provider
    /// (<see cref="PaymentCaptureRequest.PaymentId"/>). Throws <see cref="DomainException"/> when declined,
    /// with the code <see cref="PaymentProblems.Refunded"/> for a payment that has been refunded.
    /// </summary>
    Task<PaymentCapture> Capture(PaymentCaptureRequest request);

    /// <summary>
    /// The live (approved, not refunded) payment made for the reservation: the one a capture without a
    /// payment id made, or the buyer's <paramref name="paymentId"/> if it was made for this reservation.
    /// <c>null</c> if there is none. Payment companies answer this by order id.
    /// </summary>
    Task<PaymentCapture?> Find(Guid reservationId, string? paymentId);

    /// <summary>
    /// Every live payment made for the reservation, whoever started it: a capture here, or the buyer at the
    /// company's own checkout who then never came back with the payment id. Payment companies list these
    /// by order id; a closed reservation refunds the ones it has no record of.
    /// </summary>
    Task<IReadOnlyList<PaymentCapture>> PaymentsFor(Guid reservationId);

    Task Refund(string paymentId);
}

/// <summary>Problem codes a provider's <see cref="IPaymentProvider.Capture"/> throws that the reservation acts on.</summary>
public static class PaymentProblems
{
    /// <summary>The buyer's payment was made, then refunded: it holds no money.</summary>
    public const string Refunded = "payment-refunded";
}

public sealed class PaymentProviders(IEnumerable<IPaymentProvider> providers)
{
    private readonly Dictionary<string, IPaymentProvider> _byName = providers.ToDictionary(p => p.Name, StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => _byName.Keys;

    public IEnumerable<IPaymentProvider> All => _byName.Values;

    public IPaymentProvider Get(string name) =>
        _byName.GetValueOrDefault(name)
        ?? throw DomainException.Invalid("unknown-provider", $"There is no payment provider '{name}'. Known: {string.Join(", ", _byName.Keys)}.", "provider");
}
