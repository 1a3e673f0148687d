namespace TicketQueue.Grains.Abstractions.Common;

/// <summary>What kind of rule a request broke; the gateway maps it to an HTTP status.</summary>
public enum DomainErrorKind
{
    Invalid = 0,
    NotFound = 1,
    Conflict = 2,
    Forbidden = 3,
    Gone = 4,
}

/// <summary>
/// A domain rule refused a request. It crosses grain boundaries intact so the gateway can turn it
/// into an RFC 9457 problem with a stable <see cref="Code"/> and, when one field is to blame, its name.
/// </summary>
[GenerateSerializer, Alias("tq.DomainException")]
public sealed class DomainException : Exception
{
    public DomainException(DomainErrorKind kind, string code, string message, string? field = null)
        : base(message)
    {
        Kind = kind;
        Code = code;
        Field = field;
        Detail = message;
    }

    [Id(0)] public DomainErrorKind Kind { get; }
    [Id(1)] public string Code { get; }
    [Id(2)] public string? Field { get; }
    [Id(3)] public string Detail { get; }

    public static DomainException NotFound(string code, string message) => new(DomainErrorKind.NotFound, code, message);
    public static DomainException Conflict(string code, string message, string? field = null) => new(DomainErrorKind.Conflict, code, message, field);
    public static DomainException Invalid(string code, string message, string? field = null) => new(DomainErrorKind.Invalid, code, message, field);
}
