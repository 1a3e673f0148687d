using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace TicketQueue.Gateway.Problems;

/// <summary>
/// Turns every refused request into RFC 9457 problem+json: domain rules (<see cref="DomainException"/>),
/// unreadable bodies (malformed JSON, wrong types) and anything unexpected. Each problem carries a
/// stable "code" and, when one field is to blame, its name in "errors".
/// </summary>
public sealed class ProblemExceptionHandler(IProblemDetailsService problems, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken cancellationToken)
    {
        var problem = exception switch
        {
            DomainException domain => FromDomain(domain),
            BadHttpRequestException bad => FromBadRequest(bad),
            OperationCanceledException when http.RequestAborted.IsCancellationRequested => null,
            _ => null,
        };

        if (problem is null)
        {
            if (http.RequestAborted.IsCancellationRequested)
            {
                return true;
            }

            logger.LogError(exception, "Unhandled error on {Method} {Path}", http.Request.Method, http.Request.Path);
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "The service could not complete this request",
                Detail = "Try again shortly.",
                Type = "https://ticketqueue.dev/problems/unavailable",
            };
            problem.Extensions["code"] = "unavailable";
            // Storage or a silo is out of reach for a moment (a restart, a failover): retrying is right.
            http.Response.Headers.RetryAfter = "1";
        }

        http.Response.StatusCode = problem.Status!.Value;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = http, ProblemDetails = problem, Exception = exception });
    }

    public static ProblemDetails FromDomain(DomainException domain)
    {
        var status = domain.Kind switch
        {
            DomainErrorKind.Invalid => StatusCodes.Status400BadRequest,
            DomainErrorKind.NotFound => StatusCodes.Status404NotFound,
            DomainErrorKind.Conflict => StatusCodes.Status409Conflict,
            DomainErrorKind.Forbidden => StatusCodes.Status403Forbidden,
            DomainErrorKind.Gone => StatusCodes.Status410Gone,
            _ => StatusCodes.Status400BadRequest,
        };
        return Create(status, domain.Code, domain.Detail, domain.Field);
    }

    private static ProblemDetails FromBadRequest(BadHttpRequestException bad)
    {
        // Minimal APIs wrap JSON errors; the JsonException's path names the field that is wrong.
        if (bad.InnerException is MissingOffsetException offset)
        {
            var field = FieldFromPath(offset.Path);
            return Create(StatusCodes.Status400BadRequest, "offset-required",
                $"The field '{field}' needs a UTC offset, e.g. 2030-06-01T20:00:00+09:00 or 2030-06-01T11:00:00Z.", field);
        }

        if (bad.InnerException is JsonException json)
        {
            var field = FieldFromPath(json.Path);
            // System.Text.Json tells these apart only by its message (English in the runtime's own resources);
            // anything else keeps the general answer.
            return field is null ? Create(StatusCodes.Status400BadRequest, "malformed-body", "The request body is not valid JSON.", null)
                : json.Message.Contains("could not be mapped", StringComparison.Ordinal)
                    ? Create(StatusCodes.Status400BadRequest, "unknown-field", $"The field '{field}' is not part of this request.", field)
                : json.Message.StartsWith("Duplicate propert", StringComparison.Ordinal)
                    ? Create(StatusCodes.Status400BadRequest, "duplicate-field", $"The field '{field}' is given more than once.", field)
                : Create(StatusCodes.Status400BadRequest, "malformed-body", $"The field '{field}' has the wrong type or format.", field);
        }

        return bad.StatusCode == StatusCodes.Status413PayloadTooLarge
            ? Create(StatusCodes.Status413PayloadTooLarge, "body-too-large", "The request body is too large.", null)
            : Create(bad.StatusCode is >= 400 and < 500 ? bad.StatusCode : 400, CodeFor(bad.StatusCode), bad.Message, null);
    }

    /// <summary>
    /// Problems the framework writes itself (no route, wrong method, wrong content type) carry no "code";
    /// give them the one their status implies, so every problem has one.
    /// </summary>
    public static void AddMissingCode(ProblemDetailsContext context)
    {
        if (!context.ProblemDetails.Extensions.ContainsKey("code"))
        {
            context.ProblemDetails.Extensions["code"] = CodeFor(context.ProblemDetails.Status ?? context.HttpContext.Response.StatusCode);
        }
    }

    private static string CodeFor(int status) => status switch
    {
        400 => "bad-request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        406 => "not-acceptable",
        409 => "conflict",
        413 => "body-too-large",
        415 => "unsupported-media-type",
        429 => "too-many-requests",
        >= 500 => "unavailable",
        _ => "bad-request",
    };

    public static ProblemDetails Create(int status, string code, string detail, string? field)
    {
        var problem = field is null
            ? new ProblemDetails()
            : new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [detail] });
        problem.Status = status;
        problem.Title = TitleFor(status);
        problem.Detail = detail;
        problem.Type = $"https://ticketqueue.dev/problems/{code}";
        problem.Extensions["code"] = code;
        return problem;
    }

    private static string TitleFor(int status) => status switch
    {
        400 => "The request is not valid",
        401 => "Authentication is required",
        403 => "This is not allowed",
        404 => "Not found",
        409 => "The request conflicts with the current state",
        410 => "No longer available",
        413 => "The request is too large",
        _ => "The request failed",
    };

    private static string? FieldFromPath(string? path)
    {
        if (string.IsNullOrEmpty(path) || path == "$")
        {
            return null;
        }

        return path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
    }
}

/// <summary>Shorthands for the checks every endpoint makes on its input.</summary>
public static class Require
{
    public static T NotNull<T>(T? value, string field) where T : class =>
        value ?? throw DomainException.Invalid("missing-field", $"'{field}' is required.", field);

    public static T NotNull<T>(T? value, string field) where T : struct =>
        value ?? throw DomainException.Invalid("missing-field", $"'{field}' is required.", field);

    public static string Text(string? value, string field, int maxLength, int minLength = 1)
    {
        if (value is null)
        {
            throw DomainException.Invalid("missing-field", $"'{field}' is required.", field);
        }

        var trimmed = value.Trim();
        if (trimmed.Length < minLength || trimmed.Length > maxLength)
        {
            throw DomainException.Invalid("field-length", $"'{field}' must be {minLength} to {maxLength} characters.", field);
        }

        // Control characters (NUL above all, and the C1 range with its NEL line break) are never meant in a
        // name or an id, and PostgreSQL refuses NUL in text: an id carrying one would fail in storage instead of here.
        return trimmed.AsSpan().ContainsAnyInRange('\u0000', '\u001F') || trimmed.AsSpan().ContainsAnyInRange('\u007F', '\u009F')
            ? throw DomainException.Invalid("invalid-characters", $"'{field}' must not contain control characters.", field)
            : trimmed;
    }

    public static T InRange<T>(T? value, string field, T min, T max) where T : struct, IComparable<T>
    {
        var v = NotNull(value, field);
        return v.CompareTo(min) < 0 || v.CompareTo(max) > 0
            ? throw DomainException.Invalid("out-of-range", $"'{field}' must be between {min} and {max}.", field)
            : v;
    }

    public static Guid Id(string value, string code, string what) =>
        Guid.TryParse(value, out var id) ? id : throw DomainException.NotFound(code, $"There is no such {what}.");
}
