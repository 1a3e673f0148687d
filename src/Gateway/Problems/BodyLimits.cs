using Microsoft.AspNetCore.Http.Features;

namespace TicketQueue.Gateway.Problems;

/// <summary>
/// The API's bodies are small (the largest, an event with 50 blocks, is a few KB). Kestrel would read up to
/// 30 MB and deserialise all of it before a rule such as "1 to 20 seats" could refuse it; here a body above
/// <see cref="MaxBytes"/> is refused with a 413 problem, before it is read when its length is declared,
/// and by the server as it arrives when it is sent in chunks.
/// </summary>
public static class BodyLimits
{
    public const long MaxBytes = 256 * 1024;

    public static IApplicationBuilder UseRequestBodyLimit(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        if (http.Request.Path.StartsWithSegments("/api"))
        {
            // Set first, so that the server also stops reading a body refused below rather than draining it.
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = MaxBytes;
            }

            if (http.Request.ContentLength > MaxBytes)
            {
                http.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = http,
                    ProblemDetails = ProblemExceptionHandler.Create(StatusCodes.Status413PayloadTooLarge, "body-too-large",
                        $"The request body is larger than {MaxBytes / 1024} KB.", null),
                });
                return;
            }
        }

        await next(http);
    });
}
