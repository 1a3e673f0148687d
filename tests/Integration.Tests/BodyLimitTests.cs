using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using TicketQueue.Integration.Tests.Infrastructure;

namespace TicketQueue.Integration.Tests;

/// <summary>
/// The API's body limit as the real server (Kestrel) enforces it. The gateway tests' in-memory server
/// enforces no server limit, so a body sent in chunks, with no length declared up front, is only ever
/// stopped here.
/// </summary>
public sealed class BodyLimitTests
{
    private static string Registration(string email, int passwordLength) =>
        $$"""{"email":"{{email}}","displayName":"Chunked","password":"{{new string('p', passwordLength)}}"}""";

    /// <summary>
    /// POSTs <paramref name="json"/> in 16 KB chunks over a raw connection (HttpClient gives up on the
    /// answer once the server stops reading), reading the answer while it sends; stops sending once the
    /// server has answered or closed. Returns the status and the body of the answer.
    /// </summary>
    private static async Task<(int Status, string ContentType, string Body)> PostChunked(Uri gateway, string path, string json, CancellationToken ct)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(gateway.Host, gateway.Port, ct);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST {path} HTTP/1.1\r\nHost: {gateway.Authority}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"), ct);
        var reading = ReadAnswer(stream, ct);
        var bytes = Encoding.UTF8.GetBytes(json);
        try
        {
            for (var offset = 0; offset < bytes.Length && !reading.IsCompleted; offset += 16 * 1024)
            {
                var size = Math.Min(16 * 1024, bytes.Length - offset);
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"{size:X}\r\n"), ct);
                await stream.WriteAsync(bytes.AsMemory(offset, size), ct);
                await stream.WriteAsync("\r\n"u8.ToArray(), ct);
            }

            if (!reading.IsCompleted)
            {
                await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), ct);
            }
        }
        catch (IOException)
        {
            // The server stopped reading and closed: its answer is already on the way.
        }

        return await reading.WaitAsync(TimeSpan.FromSeconds(30), ct);
    }

    // Reads one answer, its body given by length or in chunks (the API answers both ways).
    private static async Task<(int Status, string ContentType, string Body)> ReadAnswer(NetworkStream stream, CancellationToken ct)
    {
        var received = new MemoryStream();
        var buffer = new byte[8192];
        while (true)
        {
            // The answers read here are ASCII headers and JSON: one character a byte is close enough.
            var text = Encoding.UTF8.GetString(received.ToArray());
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var headers = text[..end].Split("\r\n").Skip(1).Select(h => h.Split(':', 2))
                    .ToDictionary(h => h[0].Trim(), h => h[1].Trim(), StringComparer.OrdinalIgnoreCase);
                var status = int.Parse(text.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);
                var rest = text[(end + 4)..];
                var contentType = headers.GetValueOrDefault("Content-Type", "");
                if (headers.TryGetValue("Content-Length", out var length) && rest.Length >= int.Parse(length, System.Globalization.CultureInfo.InvariantCulture))
                {
                    return (status, contentType, rest);
                }

                if (headers.GetValueOrDefault("Transfer-Encoding") == "chunked" && rest.EndsWith("0\r\n\r\n", StringComparison.Ordinal))
                {
                    var body = new StringBuilder();
                    for (var at = 0; ;)
                    {
                        var line = rest.IndexOf("\r\n", at, StringComparison.Ordinal);
                        var size = Convert.ToInt32(rest[at..line], 16);
                        if (size == 0)
                        {
                            return (status, contentType, body.ToString());
                        }

                        body.Append(rest, line + 2, size);
                        at = line + 2 + size + 2;
                    }
                }
            }

            var read = await stream.ReadAsync(buffer, ct);
            if (read == 0)
            {
                throw new IOException($"The connection closed before a whole answer arrived: {text}");
            }

            received.Write(buffer, 0, read);
        }
    }

    [Fact]
    public async Task A_body_sent_in_chunks_past_the_limit_is_refused_with_a_413_problem_and_registers_nobody()
    {
        var ct = TestContext.Current.CancellationToken;
        using var gateway = GatewayProcess.StartEmbedded();
        await gateway.WaitUntilReady(TimeSpan.FromSeconds(90));
        var email = $"chunked-{Guid.NewGuid():N}@example.com";

        // 1 MB, four times the limit, with no length declared.
        var (status, contentType, body) = await PostChunked(gateway.Address, "/api/auth/register", Registration(email, 1024 * 1024), ct);

        Assert.Equal(413, status);
        Assert.StartsWith("application/problem+json", contentType, StringComparison.Ordinal);
        using (var problem = JsonDocument.Parse(body))
        {
            Assert.Equal("body-too-large", problem.RootElement.GetProperty("code").GetString());
        }

        // The same request within the limit, also in chunks, is read whole: the address was not taken.
        var fits = await PostChunked(gateway.Address, "/api/auth/register", Registration(email, 40), ct);
        Assert.Equal((int)HttpStatusCode.Created, fits.Status);
    }
}
