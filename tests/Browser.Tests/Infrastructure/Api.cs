using System.Text;

namespace TicketQueue.Browser.Tests.Infrastructure;

/// <summary>A registered account, with the password a page test types into the sign-in form.</summary>
public sealed record User(string Email, string Password, string AccessToken, string RefreshToken);

/// <summary>An event to create; every field has a default, so a test states only what it is about.</summary>
public sealed record NewEvent
{
    /// <summary>Chosen here rather than by the gateway, so the test knows it before the call returns.</summary>
    public string EventId { get; init; } = "bt-" + Guid.NewGuid().ToString("N")[..12];
    public string Name { get; init; } = "Browser test night";
    public string Venue { get; init; } = "Test hall";
    public DateTimeOffset StartsAt { get; init; } = DateTimeOffset.UtcNow.AddDays(30);
    public DateTimeOffset SalesOpenAt { get; init; } = DateTimeOffset.UtcNow.AddMinutes(-1);
    public string Currency { get; init; } = "KRW";
    public int TicketLimitPerUser { get; init; } = 4;
    public IReadOnlyList<NewBlock> Blocks { get; init; } = [new("floor", "Floor", 10, 20, 50_000m)];
    public int AdmissionsPerMinute { get; init; } = 600;
    public int MaxActiveShoppers { get; init; } = 100;
    /// <summary>10 up to <see cref="ShoppingSessionSeconds"/>.</summary>
    public int ClaimWindowSeconds { get; init; } = 120;
    /// <summary>60 to 7200.</summary>
    public int ShoppingSessionSeconds { get; init; } = 600;
    /// <summary>30 to 3600.</summary>
    public int HoldSeconds { get; init; } = 300;
}

public sealed record NewBlock(string BlockId, string Name, int Rows, int SeatsPerRow, decimal Price);

/// <summary>
/// The gateway's HTTP API as JSON (System.Text.Json.Nodes), for setting up what a page test then looks at
/// in the browser. Any status other than the expected one fails with the response body (problem+json).
/// </summary>
public sealed class Api(GatewayServer gateway)
{
    public const string Password = "correct horse battery";

    public async Task<User> Register()
    {
        var email = $"fan-{Guid.NewGuid():N}@example.com";
        var tokens = await Send(HttpMethod.Post, "/api/auth/register", null,
            new JsonObject { ["email"] = email, ["password"] = Password, ["displayName"] = "Fan" }, HttpStatusCode.Created);
        return new User(email, Password, Text(tokens, "accessToken"), Text(tokens, "refreshToken"));
    }

    /// <summary>Signs in as the seeded admin; returns the access token.</summary>
    public async Task<string> AdminLogin()
    {
        var tokens = await Send(HttpMethod.Post, "/api/auth/login", null,
            new JsonObject { ["email"] = GatewayServer.AdminEmail, ["password"] = GatewayServer.AdminPassword }, HttpStatusCode.OK);
        return Text(tokens, "accessToken");
    }

    /// <summary>Creates an event (as the admin whose token is given) and returns its id.</summary>
    public async Task<string> CreateEvent(string adminToken, NewEvent? spec = null)
    {
        spec ??= new NewEvent();
        var blocks = new JsonArray();
        foreach (var block in spec.Blocks)
        {
            blocks.Add(new JsonObject
            {
                ["blockId"] = block.BlockId,
                ["name"] = block.Name,
                ["rows"] = block.Rows,
                ["seatsPerRow"] = block.SeatsPerRow,
                ["price"] = block.Price,
            });
        }

        var created = await Send(HttpMethod.Post, "/api/admin/events", adminToken, new JsonObject
        {
            ["eventId"] = spec.EventId,
            ["name"] = spec.Name,
            ["venue"] = spec.Venue,
            ["startsAt"] = spec.StartsAt,
            ["salesOpenAt"] = spec.SalesOpenAt,
            ["currency"] = spec.Currency,
            ["ticketLimitPerUser"] = spec.TicketLimitPerUser,
            ["blocks"] = blocks,
            ["queue"] = new JsonObject
            {
                ["admissionsPerMinute"] = spec.AdmissionsPerMinute,
                ["maxActiveShoppers"] = spec.MaxActiveShoppers,
                ["claimWindowSeconds"] = spec.ClaimWindowSeconds,
                ["shoppingSessionSeconds"] = spec.ShoppingSessionSeconds,
                ["holdSeconds"] = spec.HoldSeconds,
            },
        }, HttpStatusCode.Created);
        return Text(created, "eventId");
    }

    /// <summary>Joins the event's queue: { eventId, ticket, ticketNumber, position, estimatedWaitSeconds, status, ... }.</summary>
    public Task<JsonNode> JoinQueue(string accessToken, string eventId) =>
        Send(HttpMethod.Post, $"/api/events/{eventId}/queue", accessToken, null, HttpStatusCode.OK);

    /// <summary>One's place in line; once admitted it carries admissionToken and admissionExpiresAt.</summary>
    public Task<JsonNode> QueueMe(string accessToken, string eventId) =>
        Send(HttpMethod.Get, $"/api/events/{eventId}/queue/me", accessToken, null, HttpStatusCode.OK);

    /// <summary>{ waiting, admitted, activeShoppers, issued, servingCursor, paused, admissionsPerMinute, maxActiveShoppers, seatsTotal, seatsHeld, seatsSold, ... }.</summary>
    public Task<JsonNode> Stats(string adminToken, string eventId) =>
        Send(HttpMethod.Get, $"/api/admin/events/{eventId}/stats", adminToken, null, HttpStatusCode.OK);

    /// <summary>Changes the queue's pace or pauses it; null leaves a setting as it is. Returns the stats after the change.</summary>
    public Task<JsonNode> UpdateQueue(string adminToken, string eventId, int? admissionsPerMinute = null, int? maxActiveShoppers = null, bool? paused = null)
    {
        var body = new JsonObject();
        if (admissionsPerMinute is not null)
        {
            body["admissionsPerMinute"] = admissionsPerMinute;
        }

        if (maxActiveShoppers is not null)
        {
            body["maxActiveShoppers"] = maxActiveShoppers;
        }

        if (paused is not null)
        {
            body["paused"] = paused;
        }

        return Send(HttpMethod.Put, $"/api/admin/events/{eventId}/queue", adminToken, body, HttpStatusCode.OK);
    }

    /// <summary>The signed-in user's reservations: [{ reservationId, eventId, blockId, seats, amount, currency, status, ... }].</summary>
    public async Task<JsonArray> Reservations(string accessToken) =>
        (await Send(HttpMethod.Get, "/api/reservations", accessToken, null, HttpStatusCode.OK)).AsArray();

    /// <summary>Any call; fails unless the answer has the <paramref name="expected"/> status.</summary>
    public async Task<JsonNode> Send(HttpMethod method, string path, string? accessToken, JsonNode? body, HttpStatusCode expected,
        IReadOnlyDictionary<string, string>? headers = null)
    {
        // The running test's token: a cancelled run stops waiting on the gateway, with nothing for a caller to pass.
        var ct = TestContext.Current.CancellationToken;
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

        using var response = await client.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode != expected)
        {
            throw new InvalidOperationException(
                $"{method} {path}: expected {(int)expected}, got {(int)response.StatusCode} ({response.Content.Headers.ContentType}): {text}");
        }

        return text.Length == 0 ? new JsonObject() : JsonNode.Parse(text)!;
    }

    private static string Text(JsonNode node, string property) =>
        node[property]?.GetValue<string>() ?? throw new InvalidOperationException($"No '{property}' in {node.ToJsonString()}");
}
