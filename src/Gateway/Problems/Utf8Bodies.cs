using Microsoft.Net.Http.Headers;

namespace TicketQueue.Gateway.Problems;

/// <summary>
/// JSON between systems is UTF-8 (RFC 8259, section 8.1). An API request whose body declares another
/// charset is refused with a 415 problem before anything reads it. Otherwise an unknown charset failed
/// deep in the JSON reader (a 503), and a known one (ISO-8859-1) quietly stored a Korean name as mojibake.
/// </summary>
public static class Utf8Bodies
{
    public static IApplicationBuilder UseUtf8RequestBodies(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (http.Request.Path.StartsWithSegments("/api") && DeclaredCharset(http.Request.ContentType) is { } charset && !IsUtf8(charset))
        {
            var shown = charset.Length > 40 ? charset[..40] + "…" : charset;
            http.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                ProblemDetails = ProblemExceptionHandler.Create(StatusCodes.Status415UnsupportedMediaType, "unsupported-charset",
                    $"Send the body as UTF-8 JSON; the charset '{shown}' is not accepted.", "Content-Type"),
            });
            return;
        }

        await next(http);
    });

    /// <summary>The charset a Content-Type names, or null when it names none (or is unreadable: the endpoint refuses that).</summary>
    public static string? DeclaredCharset(string? contentType) =>
        MediaTypeHeaderValue.TryParse(contentType, out var media) && media.Charset.HasValue
            ? media.Charset.Value!.Trim('"')
            : null;

    private static bool IsUtf8(string charset) =>
        charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) || charset.Equals("utf8", StringComparison.OrdinalIgnoreCase);
}
