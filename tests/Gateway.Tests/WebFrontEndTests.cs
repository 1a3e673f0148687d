using System.Net.Http.Headers;
using System.Text.RegularExpressions;

namespace TicketQueue.Gateway.Tests;

/// <summary>How the gateway serves the built front end (web/ next to the assembly): pages, caching, compression.</summary>
[Collection(GatewayCollection.Name)]
public sealed partial class WebFrontEndTests(GatewayFixture fixture)
{
    [GeneratedRegex("/assets/main-[A-Z0-9]+\\.js")]
    private static partial Regex MainScript();

    [Theory]
    [InlineData("/")]
    [InlineData("/login")]
    [InlineData("/register")]
    [InlineData("/events")]
    [InlineData("/events/spring-concert")]
    [InlineData("/queue/spring-concert")]
    [InlineData("/reservations")]
    [InlineData("/reservations/0f8fad5b-d9cb-469f-a165-70867728950e")]
    [InlineData("/admin/events/spring-concert")]
    public async Task Every_page_route_is_the_same_shell_revalidated_on_each_visit(string path)
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await fixture.Factory.CreateClient().GetAsync(path, ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoCache, $"{path}: Cache-Control is {response.Headers.CacheControl}");
        Assert.Contains("default-src 'self'", string.Join(";", response.Headers.GetValues("Content-Security-Policy")), StringComparison.Ordinal);
        var html = await response.Content.ReadAsStringAsync(ct);
        Assert.Matches(MainScript(), html);
        Assert.Contains("lang=\"ko\"", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/nope")]
    [InlineData("/queue")]
    [InlineData("/queue/a/b")]
    [InlineData("/admin")]
    [InlineData("/api/not-a-route")]
    [InlineData("/index.html.br")]
    [InlineData("/index.html.gz")]
    [InlineData("/INDEX.HTML.GZ")]
    public async Task A_path_that_is_no_page_is_a_404_problem_not_the_shell(string path)
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await fixture.Factory.CreateClient().GetAsync(path, ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Assets_are_immutable_and_sent_precompressed_in_the_encoding_the_browser_takes()
    {
        var ct = TestContext.Current.CancellationToken;
        var client = fixture.Factory.CreateClient();
        var script = MainScript().Match(await client.GetStringAsync("/", ct)).Value;

        using var plain = await client.GetAsync(script, ct);
        var body = await plain.Content.ReadAsByteArrayAsync(ct);
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        Assert.Equal("text/javascript", plain.Content.Headers.ContentType?.MediaType);
        Assert.Empty(plain.Content.Headers.ContentEncoding);
        Assert.True(plain.Headers.CacheControl is { Public: true, MaxAge.TotalDays: >= 365 }, $"Cache-Control is {plain.Headers.CacheControl}");
        Assert.Contains("immutable", plain.Headers.CacheControl!.Extensions.Select(e => e.Name));

        foreach (var (accept, encoding) in new[] { ("gzip, deflate, br", "br"), ("gzip", "gzip"), ("br;q=0, gzip", "gzip") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, script);
            request.Headers.AcceptEncoding.ParseAdd(accept);
            using var response = await client.SendAsync(request, ct);
            Assert.Equal([encoding], response.Content.Headers.ContentEncoding);
            Assert.Equal("text/javascript", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("Accept-Encoding", response.Headers.Vary);
            var compressed = await response.Content.ReadAsByteArrayAsync(ct);
            Assert.True(compressed.Length < body.Length, $"{encoding}: {compressed.Length} bytes is not smaller than {body.Length}");
            Assert.Equal(body, Decompress(compressed, encoding));
        }
    }

    [Fact]
    public async Task An_unchanged_shell_costs_a_304()
    {
        var ct = TestContext.Current.CancellationToken;
        var client = fixture.Factory.CreateClient();
        using var first = await client.GetAsync("/queue/spring-concert", ct);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/queue/spring-concert");
        request.Headers.IfNoneMatch.Add(first.Headers.ETag!);
        using var again = await client.SendAsync(request, ct);

        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
    }

    [Fact]
    public async Task The_event_list_that_waiting_pages_read_may_be_cached_for_seconds_not_longer()
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await fixture.Factory.CreateClient().GetAsync("/api/events", ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.CacheControl is { Public: true, MaxAge.TotalSeconds: > 0 and <= 5 }, $"Cache-Control is {response.Headers.CacheControl}");
    }

    [Fact]
    public async Task Posting_to_a_page_route_is_not_served_the_shell()
    {
        var ct = TestContext.Current.CancellationToken;
        using var response = await fixture.Factory.CreateClient().PostAsync("/queue/spring-concert", new StringContent(""), ct);

        Assert.True(response.StatusCode is HttpStatusCode.NotFound or HttpStatusCode.MethodNotAllowed, $"status {response.StatusCode}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    private static byte[] Decompress(byte[] data, string encoding)
    {
        using var input = new MemoryStream(data);
        using Stream decoder = encoding == "br"
            ? new System.IO.Compression.BrotliStream(input, System.IO.Compression.CompressionMode.Decompress)
            : new System.IO.Compression.GZipStream(input, System.IO.Compression.CompressionMode.Decompress);
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        return output.ToArray();
    }
}
