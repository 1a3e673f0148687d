using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Mvc.Testing;
using TicketQueue.Gateway.Auth;
using TicketQueue.Gateway.Events;
using TicketQueue.Gateway.Hosting;
using TicketQueue.Gateway.Queue;
using TicketQueue.Gateway.Reservations;
using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.Gateway.Tests;

/// <summary>What a browser would do, one HTTP call per step.</summary>
public sealed class TestApi(GatewayFactory factory)
{
    public static readonly JsonSerializerOptions Json = CreateJson();

    private readonly SemaphoreSlim _adminLock = new(1, 1);
    private readonly Lock _clientsLock = new();
    private TestUser? _admin;

    public GatewayFactory Factory => factory;

    /// <summary>A new client of the test server; safe to call from parallel requests.</summary>
    /// <remarks>
    /// The factory keeps its clients in a plain list to dispose of them. Registering many users in
    /// parallel once added two at a time, left a hole in the list, and the fixture's disposal failed
    /// on it with a NullReferenceException (every test of the collection reported as a cleanup failure).
    /// </remarks>
    public HttpClient Anonymous()
    {
        lock (_clientsLock)
        {
            return factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        }
    }

    public HttpClient Authorized(string accessToken)
    {
        var client = Anonymous();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return client;
    }

    public Task<HttpResponseMessage> Refresh(string refreshToken, CancellationToken ct) =>
        Anonymous().PostAsJsonAsync("/api/auth/refresh", new { refreshToken }, Json, ct);

    public async Task<TestUser> Register(CancellationToken ct)
    {
        var email = $"user-{Guid.NewGuid():N}@example.com";
        const string password = "correct horse battery";
        var response = await Anonymous().PostAsJsonAsync("/api/auth/register", new { email, password, displayName = "Test user" }, Json, ct);
        await response.ShouldBe(HttpStatusCode.Created);
        var tokens = (await response.Content.ReadFromJsonAsync<TokenPair>(Json, ct))!;
        return new TestUser(this, tokens, email, password);
    }

    public async Task<TestUser[]> RegisterMany(int count, CancellationToken ct)
    {
        var users = new TestUser[count];
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct },
            async (i, token) => users[i] = await Register(token));
        return users;
    }

    public async Task<TestUser> Admin(CancellationToken ct)
    {
        await _adminLock.WaitAsync(ct);
        try
        {
            if (_admin is null)
            {
                var email = factory.Setting("TicketQueue:Admin:Email");
                var password = factory.Setting("TicketQueue:Admin:Password");
                var response = await Anonymous().PostAsJsonAsync("/api/auth/login", new { email, password }, Json, ct);
                await response.ShouldBe(HttpStatusCode.OK);
                _admin = new TestUser(this, (await response.Content.ReadFromJsonAsync<TokenPair>(Json, ct))!, email, password);
            }

            return _admin;
        }
        finally
        {
            _adminLock.Release();
        }
    }

    public async Task<EventDetail> CreateEvent(EventSpec spec, CancellationToken ct)
    {
        var admin = await Admin(ct);
        var now = factory.Time.GetUtcNow();
        var response = await admin.Http.PostAsJsonAsync("/api/admin/events", new
        {
            eventId = spec.EventId,
            name = "Test event " + spec.EventId,
            venue = "Test Hall",
            startsAt = now + spec.StartsIn,
            salesOpenAt = now + spec.SalesOpenIn,
            currency = "KRW",
            ticketLimitPerUser = spec.TicketLimitPerUser,
            blocks = new[] { new { blockId = spec.BlockId, name = "Floor", rows = spec.Rows, seatsPerRow = spec.SeatsPerRow, price = spec.Price } },
            queue = new
            {
                admissionsPerMinute = spec.AdmissionsPerMinute,
                maxActiveShoppers = 100_000,
                claimWindowSeconds = 120,
                shoppingSessionSeconds = 600,
                holdSeconds = spec.HoldSeconds,
            },
        }, Json, ct);
        await response.ShouldBe(HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<EventDetail>(Json, ct))!;
    }

    /// <summary>Creates the event with its queue paused: nobody is admitted until the test resumes it.</summary>
    public async Task CreatePausedEvent(EventSpec spec, CancellationToken ct)
    {
        await CreateEvent(spec, ct);
        await SetQueue(spec.EventId, new { paused = true }, ct);
    }

    public async Task SetQueue(string eventId, object update, CancellationToken ct)
    {
        var admin = await Admin(ct);
        var response = await admin.Http.PutAsJsonAsync($"/api/admin/events/{eventId}/queue", update, Json, ct);
        await response.ShouldBe(HttpStatusCode.OK);
    }

    private static JsonSerializerOptions CreateJson()
    {
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        GatewayHosting.ConfigureJson(json);
        return json;
    }
}

/// <summary>An event made for one test: open now with fast admission, unless the test says otherwise.</summary>
public sealed record EventSpec
{
    public string EventId { get; init; } = "t-" + Guid.NewGuid().ToString("N")[..12];
    public string BlockId { get; init; } = "floor";
    public TimeSpan SalesOpenIn { get; init; } = TimeSpan.FromMinutes(-1);
    public TimeSpan StartsIn { get; init; } = TimeSpan.FromDays(30);
    public int TicketLimitPerUser { get; init; } = 4;
    public int Rows { get; init; } = 5;
    public int SeatsPerRow { get; init; } = 10;
    public decimal Price { get; init; } = 50_000m;

    /// <summary>10,000 a second: everyone waiting is in on the next tick.</summary>
    public int AdmissionsPerMinute { get; init; } = 600_000;

    public int HoldSeconds { get; init; } = 300;
}

public sealed class TestUser
{
    public TestUser(TestApi api, TokenPair tokens, string email, string password)
    {
        Api = api;
        Tokens = tokens;
        Email = email;
        Password = password;
        UserId = UserIdOf(tokens.AccessToken);
        Http = api.Authorized(tokens.AccessToken);
    }

    public TestApi Api { get; }
    public TokenPair Tokens { get; }
    public string Email { get; }
    public string Password { get; }
    public Guid UserId { get; }
    public HttpClient Http { get; }

    public async Task<QueueResponse> Join(string eventId, CancellationToken ct)
    {
        var response = await Http.PostAsync($"/api/events/{eventId}/queue", null, ct);
        await response.ShouldBe(HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<QueueResponse>(TestApi.Json, ct))!;
    }

    public async Task<QueueResponse> Me(string eventId, CancellationToken ct)
    {
        var response = await Http.GetAsync($"/api/events/{eventId}/queue/me", ct);
        await response.ShouldBe(HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<QueueResponse>(TestApi.Json, ct))!;
    }

    /// <summary>Asks where it stands until admitted; <paramref name="tick"/> moves a fake clock between asks.</summary>
    public Task<QueueResponse> AwaitAdmission(string eventId, CancellationToken ct, Action? tick = null) =>
        Eventually.Until(() => Me(eventId, ct), q => q.Status == QueueStatusKind.Admitted, $"admission to {eventId}", ct, tick: tick);

    /// <summary>Joins and waits until admitted; returns the admission token.</summary>
    public async Task<string> JoinAndAwaitAdmission(string eventId, CancellationToken ct, Action? tick = null)
    {
        await Join(eventId, ct);
        var admitted = await AwaitAdmission(eventId, ct, tick);
        return admitted.AdmissionToken ?? throw new InvalidOperationException("Admitted without an admission token.");
    }

    public Task<HttpResponseMessage> Reserve(string eventId, string admissionToken, object body, CancellationToken ct, string? idempotencyKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/events/{eventId}/reservations")
        {
            Content = JsonContent.Create(body, options: TestApi.Json),
        };
        request.Headers.Add(ReservationsApi.AdmissionHeader, admissionToken);
        if (idempotencyKey is not null)
        {
            request.Headers.Add(ReservationsApi.IdempotencyHeader, idempotencyKey);
        }

        return Http.SendAsync(request, ct);
    }

    public async Task<ReservationResponse> ReserveOk(string eventId, string admissionToken, object body, CancellationToken ct)
    {
        var response = await Reserve(eventId, admissionToken, body, ct);
        await response.ShouldBe(HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<ReservationResponse>(TestApi.Json, ct))!;
    }

    public async Task<ReservationResponse> Reservation(Guid reservationId, CancellationToken ct)
    {
        var response = await Http.GetAsync($"/api/reservations/{reservationId}", ct);
        await response.ShouldBe(HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<ReservationResponse>(TestApi.Json, ct))!;
    }

    public Task<HttpResponseMessage> Pay(Guid reservationId, object body, CancellationToken ct) =>
        Http.PostAsJsonAsync($"/api/reservations/{reservationId}/payment", body, TestApi.Json, ct);

    public async Task<SandboxCheckoutResponse> SandboxCheckout(Guid reservationId, CancellationToken ct)
    {
        var response = await Http.PostAsJsonAsync("/api/payments/sandbox/checkout", new { reservationId }, TestApi.Json, ct);
        await response.ShouldBe(HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<SandboxCheckoutResponse>(TestApi.Json, ct))!;
    }

    public async Task<IReadOnlyList<Grains.Abstractions.Seats.SeatView>> Seats(string eventId, string blockId, CancellationToken ct)
    {
        var response = await Http.GetAsync($"/api/events/{eventId}/blocks/{blockId}/seats", ct);
        await response.ShouldBe(HttpStatusCode.OK);
        return (await response.Content.ReadFromJsonAsync<List<Grains.Abstractions.Seats.SeatView>>(TestApi.Json, ct))!;
    }

    private static Guid UserIdOf(string accessToken)
    {
        var payload = accessToken.Split('.')[1];
        var json = Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(payload));
        return Guid.Parse(JsonDocument.Parse(json).RootElement.GetProperty("sub").GetString()!);
    }
}

public static class Eventually
{
    /// <summary>
    /// Asks <paramref name="probe"/> until <paramref name="done"/> holds or the deadline passes. With a fake
    /// clock, <paramref name="tick"/> advances it before each ask so timers on that clock fire.
    /// </summary>
    public static async Task<T> Until<T>(Func<Task<T>> probe, Func<T, bool> done, string what, CancellationToken ct,
        TimeSpan? timeout = null, Action? tick = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            tick?.Invoke();
            var value = await probe();
            if (done(value))
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Gave up waiting for {what}; last seen: {value}");
            }

            await Task.Delay(20, ct);
        }
    }
}

public static class ResponseAssertions
{
    public static async Task ShouldBe(this HttpResponseMessage response, HttpStatusCode status)
    {
        if (response.StatusCode != status)
        {
            var body = await response.Content.ReadAsStringAsync();
            Assert.Fail($"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}: expected {(int)status} but got {(int)response.StatusCode}: {body}");
        }
    }

    /// <summary>
    /// The response is an RFC 9457 problem: this status, content type application/problem+json, a "code"
    /// member (this one, when given) and, when one field is to blame, that field in "errors".
    /// </summary>
    public static async Task<JsonElement> ShouldBeProblem(this HttpResponseMessage response, int status, string? code = null, string? field = null)
    {
        var body = await response.Content.ReadAsStringAsync();
        var where = $"{response.RequestMessage?.Method} {Shorten(response.RequestMessage?.RequestUri?.PathAndQuery)} answered {(int)response.StatusCode} {Shorten(body)}";
        Assert.True((int)response.StatusCode == status, $"expected {status}: {where}");
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/problem+json",
            $"expected application/problem+json, got {response.Content.Headers.ContentType}: {where}");

        var problem = JsonDocument.Parse(body).RootElement.Clone();
        Assert.True(problem.TryGetProperty("code", out var actualCode) && actualCode.ValueKind == JsonValueKind.String
            && actualCode.GetString() is { Length: > 0 }, $"expected a \"code\" member: {where}");
        Assert.True(problem.TryGetProperty("status", out var actualStatus) && actualStatus.GetInt32() == status, $"expected \"status\": {status}: {where}");
        if (code is not null)
        {
            Assert.True(actualCode.GetString() == code, $"expected code {code}: {where}");
        }

        if (field is not null)
        {
            Assert.True(problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out _),
                $"expected \"errors\" to name '{field}': {where}");
        }

        return problem;
    }

    private static string? Shorten(string? text) => text is { Length: > 300 } ? text[..300] + "…" : text;
}
