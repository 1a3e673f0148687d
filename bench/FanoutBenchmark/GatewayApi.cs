using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace TicketQueue.FanoutBenchmark;

/// <summary>A place in line as POST /api/events/{id}/queue answers it (the fields the benchmark reads).</summary>
public sealed record JoinResponse(string EventId, string Ticket, long? TicketNumber, long? Position, string Status, long ServingCursor);

/// <summary>GET/PUT /api/admin/events/{id}/... (the fields the benchmark reads).</summary>
public sealed record EventStats(string EventId, long Waiting, long Admitted, long Issued, long ServingCursor, bool Paused, int AdmissionsPerMinute);

/// <summary>The REST calls the benchmark makes: the admin's (create, pace, pause, stats) and the users' join.</summary>
public sealed class GatewayApi(Uri address, string adminToken, int connections) : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly HttpClient _http = new(new SocketsHttpHandler { MaxConnectionsPerServer = connections })
    {
        BaseAddress = address,
        Timeout = TimeSpan.FromSeconds(60),
    };

    /// <summary>An event that sells now (its queue opens at the first call), with room for every admitted user.</summary>
    public async Task<string> CreateEvent(int admissionsPerMinute, CancellationToken cancellationToken)
    {
        var eventId = $"fanout-{Guid.NewGuid():N}"[..20];
        var now = DateTimeOffset.UtcNow;
        var body = new
        {
            eventId,
            name = "Fan-out benchmark",
            venue = "Loopback Hall",
            startsAt = now.AddDays(1),
            salesOpenAt = now.AddMinutes(-1),
            currency = "KRW",
            ticketLimitPerUser = 4,
            blocks = new[] { new { blockId = "floor", name = "Floor", rows = 10, seatsPerRow = 10, price = 1000m } },
            queue = new
            {
                admissionsPerMinute,
                maxActiveShoppers = 1_000_000,
                claimWindowSeconds = 600,
                shoppingSessionSeconds = 3600,
                holdSeconds = 600,
            },
        };
        using var request = Admin(HttpMethod.Post, "/api/admin/events", body);
        using var response = await _http.SendAsync(request, cancellationToken);
        await Require(response, "creating the event", cancellationToken);
        return eventId;
    }

    /// <summary>PUT /api/admin/events/{id}/queue: each call makes the queue grain tell every gateway, which tells every follower.</summary>
    public async Task<EventStats> UpdateQueue(string eventId, int? admissionsPerMinute, bool? paused, CancellationToken cancellationToken)
    {
        using var request = Admin(HttpMethod.Put, $"/api/admin/events/{eventId}/queue", new { admissionsPerMinute, paused });
        using var response = await _http.SendAsync(request, cancellationToken);
        await Require(response, "updating the queue", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<EventStats>(Json, cancellationToken))!;
    }

    public async Task<EventStats> Stats(string eventId, CancellationToken cancellationToken)
    {
        using var request = Admin(HttpMethod.Get, $"/api/admin/events/{eventId}/stats", null);
        using var response = await _http.SendAsync(request, cancellationToken);
        await Require(response, "reading the event's stats", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<EventStats>(Json, cancellationToken))!;
    }

    public async Task<JoinResponse> Join(string eventId, string accessToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/events/{eventId}/queue");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await _http.SendAsync(request, cancellationToken);
        await Require(response, "joining the queue", cancellationToken);
        return (await response.Content.ReadFromJsonAsync<JoinResponse>(Json, cancellationToken))!;
    }

    private HttpRequestMessage Admin(HttpMethod method, string path, object? body)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body, options: Json);
        }

        return request;
    }

    private static async Task Require(HttpResponseMessage response, string what, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            throw new InvalidOperationException($"{what} failed: {(int)response.StatusCode} {text}");
        }
    }

    public void Dispose() => _http.Dispose();
}
