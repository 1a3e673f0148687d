using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using HttpJsonOptions = Microsoft.AspNetCore.Http.Json.JsonOptions;

namespace TicketQueue.Gateway.Problems;

/// <summary>
/// The last writer of problems: it writes problem+json whatever the request's Accept header says.
/// </summary>
/// <remarks>
/// ASP.NET Core's own writer (registered first, so it still writes every problem a JSON client asks
/// for) declines when Accept leaves JSON out, say <c>Accept: text/html</c>. Without this writer such a
/// request got an empty body, a 404 domain error became a 500, and a 401 from the token check a 503.
/// The API has no other representation to offer, and RFC 9110 (section 12.1) lets a server send the one
/// it has instead of answering 406.
/// </remarks>
public sealed class ProblemJsonFallbackWriter(IOptions<ProblemDetailsOptions> problemOptions, IOptions<HttpJsonOptions> jsonOptions)
    : IProblemDetailsWriter
{
    public const string ContentType = "application/problem+json";

    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        var status = problem.Status ?? context.HttpContext.Response.StatusCode;
        problem.Status = status;
        problem.Title ??= ReasonPhrases.GetReasonPhrase(status);
        problemOptions.Value.CustomizeProblemDetails?.Invoke(context);
        var serializer = jsonOptions.Value.SerializerOptions;
        return new ValueTask(context.HttpContext.Response.WriteAsJsonAsync(
            problem, serializer.GetTypeInfo(problem.GetType()), ContentType, context.HttpContext.RequestAborted));
    }
}
