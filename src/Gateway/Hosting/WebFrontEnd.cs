using System.Text.RegularExpressions;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace TicketQueue.Gateway.Hosting;

/// <summary>
/// Serves the web front end (ClientApp, built into web/ next to the assembly). Every page route gets
/// the same small index.html, revalidated on each visit; the scripts and styles it names carry a hash
/// of their content, so browsers and CDNs keep them for a year. Each asset is served as the brotli or
/// gzip copy the build made, when the browser accepts one, so nothing is compressed per request.
/// </summary>
public static partial class WebFrontEnd
{
    /// <summary>The browser routes of ClientApp/src/main.ts: each is index.html, the router does the rest.</summary>
    [GeneratedRegex("^/(|login|register|events|events/[^/]+|queue/[^/]+|reservations|reservations/[^/]+|admin/events/[^/]+)$")]
    private static partial Regex PageRoute();

    public const string RootKey = "TicketQueue:WebRoot";

    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

    private static readonly (string Token, string Suffix)[] Encodings = [("br", ".br"), ("gzip", ".gz")];

    public static WebApplication UseWebFrontEnd(this WebApplication app)
    {
        var root = app.Configuration[RootKey] ?? Path.Combine(AppContext.BaseDirectory, "web");
        if (!File.Exists(Path.Combine(root, "index.html")))
        {
            app.Logger.LogWarning("No web front end at {Root}: the API and hub run without pages (build src/Gateway to make it)", root);
            return app;
        }

        var files = new PhysicalFileProvider(root);
        app.Use((context, next) =>
        {
            var request = context.Request;
            if ((HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method)) && context.GetEndpoint() is null)
            {
                var path = request.Path.Value ?? "/";
                if (Encodings.Any(e => path.EndsWith(e.Suffix, StringComparison.OrdinalIgnoreCase)))
                {
                    // The compressed copies are how a file is sent, not files of their own: asked for by
                    // name they would arrive with a Content-Encoding the client never offered to decode.
                    context.Response.StatusCode = StatusCodes.Status404NotFound;
                    return Task.CompletedTask;
                }

                if (PageRoute().IsMatch(path))
                {
                    path = "/index.html";
                }

                request.Path = Precompressed(files, path, request.Headers.AcceptEncoding);
            }

            return next(context);
        });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            ContentTypeProvider = new UncompressedContentTypes(),
            OnPrepareResponse = Prepare,
        });
        return app;
    }

    /// <summary>The precompressed copy to send instead, if the browser takes its encoding and the build made it.</summary>
    private static string Precompressed(IFileProvider files, string path, StringValues acceptEncodingHeader)
    {
        if (!StringWithQualityHeaderValue.TryParseList(acceptEncodingHeader, out var acceptEncoding))
        {
            return path;
        }

        foreach (var (token, suffix) in Encodings)
        {
            if (Accepts(acceptEncoding, token) && files.GetFileInfo(path + suffix).Exists)
            {
                return path + suffix;
            }
        }

        return path;
    }

    private static bool Accepts(IList<StringWithQualityHeaderValue> acceptEncoding, string token) =>
        // "br;q=0" means "never br".
        acceptEncoding.Any(e => e.Value.Equals(token, StringComparison.OrdinalIgnoreCase) && e.Quality is not 0);

    private static void Prepare(StaticFileResponseContext file)
    {
        var headers = file.Context.Response.Headers;
        var name = file.File.Name;
        foreach (var (token, suffix) in Encodings)
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal))
            {
                headers.ContentEncoding = token;
                name = name[..^suffix.Length];
            }
        }

        headers.Vary = HeaderNames.AcceptEncoding;
        headers.XContentTypeOptions = "nosniff";
        if (name == "index.html")
        {
            // Always ask again (a 304 when unchanged): a new release must reach the next visitor.
            headers.CacheControl = "no-cache";
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers["Referrer-Policy"] = "same-origin";
        }
        else
        {
            // Named by content hash: a changed file gets a new name, so this one never changes.
            headers.CacheControl = "public, max-age=31536000, immutable";
        }
    }

    /// <summary>Content types by the name without .br or .gz: main-X.js.br is still JavaScript.</summary>
    private sealed class UncompressedContentTypes : IContentTypeProvider
    {
        private readonly FileExtensionContentTypeProvider _inner = new();

        public bool TryGetContentType(string subpath, out string contentType)
        {
            foreach (var (_, suffix) in Encodings)
            {
                if (subpath.EndsWith(suffix, StringComparison.Ordinal))
                {
                    subpath = subpath[..^suffix.Length];
                }
            }

            return _inner.TryGetContentType(subpath, out contentType!);
        }
    }
}
