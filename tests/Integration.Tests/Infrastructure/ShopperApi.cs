using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace TicketQueue.Integration.Tests.Infrastructure;

/// <summary>
/// What a browser does against a gateway, over plain HTTP and JSON. Transient answers (503, a refused or
/// timed-out connection) are retried the way a client would; a 500 is never retried: it fails the test.
/// </summary>
public sealed class ShopperApi(GatewayProcess gateway)
{
    public const string AdminEmail = "admin@ticketqueue.local";
    public const string AdminPassword = "DEVELOPMENT-ONLY-admin-password";

    private int _transientFailures;

    /// <summary>How many 503s and connection failures the retries absorbed.</summary>
    public int TransientFailures => _transientFailures;

    public async Task<Shopper> Register(CancellationToken ct)
    {
        var email = $"fan-{Guid.NewGuid():N}@example.com";
        var tokens = await Send(HttpMethod.Post, "/api/auth/register", null,
            new JsonObject { ["email"] = email, ["password"] = "correct horse battery", ["displayName"] = "Fan" }, HttpStatusCode.Created, ct);
        return new Shopper(this, tokens["accessToken"]!.GetValue<string>());
    }

    public async Task<Shopper> Admin(CancellationToken ct)
    {
        var tokens = await Send(HttpMethod.Post, "/api/auth/login", null,
            new JsonObject { ["email"] = AdminEmail, ["password"] = AdminPassword }, HttpStatusCode.OK, ct);
        return new Shopper(this, tokens["accessToken"]!.GetValue<string>());
    }

    /// <summary>Sends until a non-transient answer comes, and requires it to be <paramref name="expected"/>.</summary>
    public async Task<JsonNode> Send(HttpMethod method, string path, string? accessToken, JsonNode? body, HttpStatusCode expected,
        CancellationToken ct, IReadOnlyDictionary<string, string>? headers = null, TimeSpan? patience = null)
    {
        var deadline = DateTime.UtcNow + (patience ?? TimeSpan.FromSeconds(90));
        while (true)
        {
            using var client = gateway.Client(accessToken);
            using var request = new HttpRequestMessage(method, path);
            if (body is not null)
            {
                request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            }

            foreach (var (name, value) in headers ?? new Dictionary<string, string>())
            {
                request.Headers.Add(name, value);
            }

            string? transient;
            try
            {
                using var response = await client.SendAsync(request, ct);
                var text = await response.Content.ReadAsStringAsync(ct);
                if (response.StatusCode == expected)
                {
                    return text.Length == 0 ? new JsonObject() : JsonNode.Parse(text)!;
                }

                if (response.StatusCode != HttpStatusCode.ServiceUnavailable)
                {
                    throw new InvalidOperationException($"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode}: {text}");
                }

                if (response.Content.Headers.ContentType?.MediaType != "application/problem+json")
                {
                    throw new InvalidOperationException($"{method} {path}: a 503 that is not problem+json: {text}");
                }

                transient = $"503 {text}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                transient = e.Message;
            }

            Interlocked.Increment(ref _transientFailures);
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{method} {path} kept failing; last: {transient}");
            }

            await Task.Delay(250, ct);
        }
    }
}

public sealed class Shopper(ShopperApi api, string accessToken)
{
    public string AccessToken { get; } = accessToken;

    public ShopperApi Api { get; } = api;

    public Task<JsonNode> Join(string eventId, CancellationToken ct) =>
        Api.Send(HttpMethod.Post, $"/api/events/{eventId}/queue", AccessToken, null, HttpStatusCode.OK, ct);

    public Task<JsonNode> Me(string eventId, CancellationToken ct) =>
        Api.Send(HttpMethod.Get, $"/api/events/{eventId}/queue/me", AccessToken, null, HttpStatusCode.OK, ct);

    public async Task<string> AwaitAdmission(string eventId, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (true)
        {
            var me = await Me(eventId, ct);
            if (me["status"]!.GetValue<string>() == "admitted")
            {
                return me["admissionToken"]!.GetValue<string>();
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Not admitted to {eventId}: {me.ToJsonString()}");
            }

            await Task.Delay(100, ct);
        }
    }

    /// <summary>Holds best-available seats; the idempotency key makes a retried request the same hold.</summary>
    public Task<JsonNode> Hold(string eventId, string admissionToken, int quantity, CancellationToken ct) =>
        Api.Send(HttpMethod.Post, $"/api/events/{eventId}/reservations", AccessToken,
            new JsonObject { ["blockId"] = "floor", ["quantity"] = quantity }, HttpStatusCode.Created, ct,
            new Dictionary<string, string> { ["X-Admission-Token"] = admissionToken, ["Idempotency-Key"] = "hold-" + eventId });

    /// <summary>Pays at the sandbox provider, then hands the payment to the reservation, as the checkout page does.</summary>
    public async Task<JsonNode> PayWithSandbox(string reservationId, CancellationToken ct)
    {
        var checkout = await Api.Send(HttpMethod.Post, "/api/payments/sandbox/checkout", AccessToken,
            new JsonObject { ["reservationId"] = reservationId }, HttpStatusCode.OK, ct);
        return await Api.Send(HttpMethod.Post, $"/api/reservations/{reservationId}/payment", AccessToken,
            new JsonObject { ["provider"] = "sandbox", ["paymentId"] = checkout["paymentId"]!.GetValue<string>() }, HttpStatusCode.OK, ct);
    }

    public Task<JsonNode> Reservation(string reservationId, CancellationToken ct) =>
        Api.Send(HttpMethod.Get, $"/api/reservations/{reservationId}", AccessToken, null, HttpStatusCode.OK, ct);

    public Task<JsonNode> Seats(string eventId, CancellationToken ct) =>
        Api.Send(HttpMethod.Get, $"/api/events/{eventId}/blocks/floor/seats", AccessToken, null, HttpStatusCode.OK, ct);

    public async Task<string> CreateEvent(int rows, int seatsPerRow, CancellationToken ct)
    {
        var eventId = "it-" + Guid.NewGuid().ToString("N")[..12];
        var now = DateTimeOffset.UtcNow;
        await Api.Send(HttpMethod.Post, "/api/admin/events", AccessToken, new JsonObject
        {
            ["eventId"] = eventId,
            ["name"] = "Failover night",
            ["venue"] = "Test hall",
            ["startsAt"] = now.AddDays(30),
            ["salesOpenAt"] = now.AddMinutes(-1),
            ["currency"] = "KRW",
            ["ticketLimitPerUser"] = 2,
            ["blocks"] = new JsonArray(new JsonObject { ["blockId"] = "floor", ["name"] = "Floor", ["rows"] = rows, ["seatsPerRow"] = seatsPerRow, ["price"] = 50_000 }),
            ["queue"] = new JsonObject
            {
                ["admissionsPerMinute"] = 600_000,
                ["maxActiveShoppers"] = 100_000,
                ["claimWindowSeconds"] = 120,
                ["shoppingSessionSeconds"] = 600,
                ["holdSeconds"] = 600,
            },
        }, HttpStatusCode.Created, ct);
        return eventId;
    }

    public Task<JsonNode> SetQueue(string eventId, JsonObject update, CancellationToken ct) =>
        Api.Send(HttpMethod.Put, $"/api/admin/events/{eventId}/queue", AccessToken, update, HttpStatusCode.OK, ct);

    public Task<JsonNode> Send(string path, CancellationToken ct) =>
        Api.Send(HttpMethod.Get, path, AccessToken, null, HttpStatusCode.OK, ct);

    public Task<JsonNode> ClusterView(CancellationToken ct) =>
        Api.Send(HttpMethod.Get, "/api/admin/cluster", AccessToken, null, HttpStatusCode.OK, ct);
}
