using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.SignalR;
using TicketQueue.Gateway.Reservations;
using TicketQueue.Grains.Abstractions.Queue;

namespace TicketQueue.Gateway.Tests;

/// <summary>What a request sends; {event}, {mine} and the like are filled from the <see cref="Scene"/>.</summary>
public sealed record Probe(
    string Method, string Path, Caller Caller = Caller.User, string? Body = null, AdmissionKind Admission = AdmissionKind.None,
    string ContentType = "application/json", string? IdempotencyKey = null, string? Authorization = null, string? Accept = null);

public sealed record Refusal(int Status, string Code, string? Field = null);

/// <summary>
/// Every route, fed what a careless or hostile client sends: each answer is a 4xx problem+json with a
/// "code" and, where one field is to blame, that field in "errors". Never a 5xx.
/// </summary>
[Collection(BadInputCollection.Name)]
public sealed class BadInputTests(BadInputFixture fixture)
{
    private const string Admission = ReservationsApi.AdmissionHeader;
    private static readonly string Huge = new('x', 100_000);
    private static readonly Dictionary<string, (Probe Probe, Refusal Refusal)> Cases = [];

    static BadInputTests()
    {
        AuthCases();
        EventCases();
        QueueCases();
        ReservationCases();
        PaymentCases();
        AdminCases();

        Add("unknown route", new("GET", "/api/nope"), 404, "not-found");
        Add("wrong method", new("DELETE", "/api/events"), 405, "method-not-allowed");

        // The API has only JSON to offer: a client that asks for something else still gets its problem as JSON.
        Add("accept html: unknown event", new("GET", "/api/events/no-such-event", Caller.Anonymous, Accept: "text/html"), 404, "event-not-found");
        Add("accept xml: anonymous", new("GET", "/api/reservations", Caller.Anonymous, Accept: "application/xml"), 401, "unauthenticated");
        Add("accept text: malformed JSON", new("POST", "/api/auth/register", Caller.Anonymous, """{"email":""", Accept: "text/plain"), 400, "malformed-body");
        Add("accept html: unknown route", new("GET", "/api/nope", Accept: "text/html"), 404, "not-found");
        Add("accept html: not an admin", new("POST", "/api/admin/events", Caller.User, EventBody(), Accept: "text/html"), 403, "forbidden");

        // JSON is UTF-8 (RFC 8259): a body that says otherwise is refused before it is read.
        Add("register: unknown charset", new("POST", "/api/auth/register", Caller.Anonymous, """{"email":"a@b.cd"}""", ContentType: "application/json; charset=nope"), 415, "unsupported-charset", "Content-Type");
        Add("register: latin-1 charset", new("POST", "/api/auth/register", Caller.Anonymous, """{"email":"a@b.cd"}""", ContentType: "application/json; charset=iso-8859-1"), 415, "unsupported-charset", "Content-Type");
        Add("register: quoted utf-16 charset", new("POST", "/api/auth/register", Caller.Anonymous, """{"email":"a@b.cd"}""", ContentType: "application/json; charset=\"utf-16\""), 415, "unsupported-charset", "Content-Type");
        Add("join: huge charset", new("POST", "/api/events/{event}/queue", Body: "{}", ContentType: $"application/json; charset={Huge}"), 415, "unsupported-charset", "Content-Type");
    }

    public static TheoryData<string> CaseNames => [.. Cases.Keys];

    public static TheoryData<string> HubCaseNames => [.. HubCases.Keys];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public async Task A_bad_request_is_refused_with_a_problem_that_names_the_cause(string name)
    {
        var ct = TestContext.Current.CancellationToken;
        var scene = fixture.Scene;
        var (probe, refusal) = Cases[name];

        using var request = new HttpRequestMessage(new HttpMethod(probe.Method), scene.Fill(probe.Path));
        if (probe.Body is not null)
        {
            // Sent as written, parameters and all (StringContent would refuse a charset it does not know).
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(scene.Fill(probe.Body)));
            request.Content.Headers.TryAddWithoutValidation("Content-Type", probe.ContentType);
        }

        if (probe.Authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", probe.Authorization);
        }
        else if (scene.AccessToken(probe.Caller) is { } token)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (scene.Admission(probe.Admission) is { } admission)
        {
            request.Headers.Add(Admission, admission);
        }

        if (probe.IdempotencyKey is not null)
        {
            // Lines of their own: one header each.
            request.Headers.TryAddWithoutValidation(ReservationsApi.IdempotencyHeader, probe.IdempotencyKey.Split('\n'));
        }

        if (probe.Accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", probe.Accept);
        }

        var response = await fixture.Api.Anonymous().SendAsync(request, ct);
        await response.ShouldBeProblem(refusal.Status, refusal.Code, refusal.Field);
    }

    [Theory]
    [InlineData(new byte[] { 0xFF })]
    [InlineData(new byte[] { 0xC3, 0x28 })]
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 })]
    public async Task A_body_that_is_not_UTF_8_is_refused_as_malformed(byte[] invalid)
    {
        // Bytes no UTF-8 encoder writes (a lone 0xFF, a broken pair, an encoded surrogate) inside the email.
        byte[] body = [.. "{\"email\":\"a"u8, .. invalid, .. "@b.cd\",\"password\":\"long enough\"}"u8];
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/register") { Content = new ByteArrayContent(body) };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", "application/json");

        var response = await fixture.Api.Anonymous().SendAsync(request, TestContext.Current.CancellationToken);

        await response.ShouldBeProblem(400, "malformed-body");
    }

    private static readonly Dictionary<string, (Func<Scene, (TestUser Caller, string? EventId, string? Ticket)> Follow, string Code)> HubCases = new()
    {
        ["forged ticket"] = (s => (s.Me, s.Event.EventId, Scene.ForgedTokens.SignTicket(s.Event.EventId, s.Me.UserId, new QueuePlace(false, 1))), "invalid-ticket"),
        ["tampered ticket"] = (s => (s.Me, s.Event.EventId, Scene.Tampered(s.MyTicket)), "invalid-ticket"),
        ["garbage ticket"] = (s => (s.Me, s.Event.EventId, "garbage"), "invalid-ticket"),
        ["huge ticket"] = (s => (s.Me, s.Event.EventId, new string('t', 10_000)), "invalid-ticket"),
        ["admission token for a ticket"] = (s => (s.Me, s.Event.EventId, s.MyAdmission), "invalid-ticket"),
        ["empty ticket"] = (s => (s.Me, s.Event.EventId, ""), "ticket-required"),
        ["no ticket"] = (s => (s.Me, s.Event.EventId, null), "ticket-required"),
        ["another event's ticket"] = (s => (s.Me, s.Event.EventId, s.MyOtherEventTicket), "ticket-mismatch"),
        ["another user's ticket"] = (s => (s.Me, s.Event.EventId, s.OtherUsersTicket), "ticket-mismatch"),
        ["ticket of a place left since"] = (s => (s.Stale, s.Event.EventId, s.StaleTicket), "ticket-stale"),
        ["unknown event"] = (s => (s.Me, "no-such-event", s.MyTicket), "event-not-found"),
        ["huge event id"] = (s => (s.Me, new string('e', 10_000), s.MyTicket), "event-not-found"),
        ["no event id"] = (s => (s.Me, null, s.MyTicket), "event-not-found"),
    };

    [Theory]
    [MemberData(nameof(HubCaseNames))]
    public async Task Following_with_a_bad_ticket_is_refused_with_the_problem_code(string name)
    {
        var ct = TestContext.Current.CancellationToken;
        var (follow, code) = HubCases[name];
        var (caller, eventId, ticket) = follow(fixture.Scene);
        await using var hub = await QueueHubClient.Connect(fixture.Factory, caller.Tokens.AccessToken, ct);

        var refused = await Assert.ThrowsAsync<HubException>(() => hub.Follow(eventId!, ticket!, ct));
        Assert.Contains($"HubException: {code}: ", refused.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Caller.Anonymous)]
    [InlineData(Caller.GarbageBearer)]
    [InlineData(Caller.TamperedJwt)]
    [InlineData(Caller.ForeignJwt)]
    [InlineData(Caller.ExpiredJwt)]
    public async Task The_queue_hub_refuses_a_connection_without_a_valid_access_token(Caller caller)
    {
        var ct = TestContext.Current.CancellationToken;
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => QueueHubClient.Connect(fixture.Factory, fixture.Scene.AccessToken(caller), ct));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    private static void Add(string name, Probe probe, int status, string code, string? field = null) =>
        Cases.Add(name, (probe, new Refusal(status, code, field)));

    private static void AuthCases()
    {
        const string register = "/api/auth/register";
        Add("register: malformed JSON", new("POST", register, Caller.Anonymous, """{"email":"""), 400, "malformed-body");
        Add("register: not JSON", new("POST", register, Caller.Anonymous, "email=a@b.c", ContentType: "text/plain"), 415, "unsupported-media-type");
        Add("register: no body", new("POST", register, Caller.Anonymous), 400, "missing-field", "body");
        Add("register: null body", new("POST", register, Caller.Anonymous, "null"), 400, "missing-field", "body");
        Add("register: array for object", new("POST", register, Caller.Anonymous, "[]"), 400, "malformed-body");
        // Refused at the unknown name, before the nesting is read.
        Add("register: deep nesting in an unknown field", new("POST", register, Caller.Anonymous, $$"""{"email":"a@b.cd","x":{{new string('[', 100)}}{{new string(']', 100)}}}"""), 400, "unknown-field", "x");
        Add("register: missing email", new("POST", register, Caller.Anonymous, """{"password":"long enough","displayName":"X"}"""), 400, "missing-field", "email");
        Add("register: missing password", new("POST", register, Caller.Anonymous, """{"email":"a@b.cd","displayName":"X"}"""), 400, "missing-field", "password");
        Add("register: missing display name", new("POST", register, Caller.Anonymous, """{"email":"a@b.cd","password":"long enough"}"""), 400, "missing-field", "displayName");
        Add("register: number for email", new("POST", register, Caller.Anonymous, """{"email":5,"password":"long enough","displayName":"X"}"""), 400, "malformed-body", "email");
        Add("register: object for password", new("POST", register, Caller.Anonymous, """{"email":"a@b.cd","password":{},"displayName":"X"}"""), 400, "malformed-body", "password");
        Add("register: empty email", new("POST", register, Caller.Anonymous, """{"email":"","password":"long enough","displayName":"X"}"""), 400, "field-length", "email");
        Add("register: C1 control character in display name", new("POST", register, Caller.Anonymous, """{"email":"c1@b.cd","password":"long enough","displayName":"A\u0085B"}"""), 400, "invalid-characters", "displayName");
        Add("register: control character in display name", new("POST", register, Caller.Anonymous, """{"email":"ctl@b.cd","password":"long enough","displayName":"A\u0007B"}"""), 400, "invalid-characters", "displayName");
        Add("login: NUL in email", new("POST", "/api/auth/login", Caller.Anonymous, """{"email":"a\u0000@b.cd","password":"whatever1"}"""), 400, "invalid-characters", "email");
        Add("register: not an email", new("POST", register, Caller.Anonymous, """{"email":"nobody","password":"long enough","displayName":"X"}"""), 400, "invalid-email", "email");
        Add("register: body over the size limit", new("POST", register, Caller.Anonymous, $$"""{"email":"a@b.cd","password":"{{new string('p', 300_000)}}","displayName":"X"}"""), 413, "body-too-large");
        Add("register: huge email", new("POST", register, Caller.Anonymous, $$"""{"email":"{{Huge}}@b.cd","password":"long enough","displayName":"X"}"""), 400, "field-length", "email");
        Add("register: short password", new("POST", register, Caller.Anonymous, """{"email":"a@b.cd","password":"short","displayName":"X"}"""), 400, "weak-password", "password");
        Add("register: huge password", new("POST", register, Caller.Anonymous, $$"""{"email":"a@b.cd","password":"{{Huge}}","displayName":"X"}"""), 400, "weak-password", "password");
        Add("register: empty display name", new("POST", register, Caller.Anonymous, """{"email":"a@b.cd","password":"long enough","displayName":"  "}"""), 400, "field-length", "displayName");
        Add("register: huge display name", new("POST", register, Caller.Anonymous, $$"""{"email":"a@b.cd","password":"long enough","displayName":"{{Huge}}"}"""), 400, "field-length", "displayName");

        const string login = "/api/auth/login";
        Add("login: malformed JSON", new("POST", login, Caller.Anonymous, "{"), 400, "malformed-body");
        Add("login: no body", new("POST", login, Caller.Anonymous), 400, "missing-field", "body");
        Add("login: missing email", new("POST", login, Caller.Anonymous, """{"password":"long enough"}"""), 400, "missing-field", "email");
        Add("login: missing password", new("POST", login, Caller.Anonymous, """{"email":"a@b.cd"}"""), 400, "missing-field", "password");
        Add("login: number for password", new("POST", login, Caller.Anonymous, """{"email":"a@b.cd","password":12345678}"""), 400, "malformed-body", "password");
        Add("login: empty email", new("POST", login, Caller.Anonymous, """{"email":"","password":"long enough"}"""), 400, "field-length", "email");
        Add("login: huge email", new("POST", login, Caller.Anonymous, $$"""{"email":"{{Huge}}","password":"long enough"}"""), 400, "field-length", "email");
        Add("login: huge password", new("POST", login, Caller.Anonymous, $$"""{"email":"a@b.cd","password":"{{Huge}}"}"""), 401, "invalid-credentials");

        const string refresh = "/api/auth/refresh";
        Add("refresh: malformed JSON", new("POST", refresh, Caller.Anonymous, """{"refreshToken":}"""), 400, "malformed-body");
        Add("refresh: missing token", new("POST", refresh, Caller.Anonymous, "{}"), 400, "missing-field", "refreshToken");
        Add("refresh: number for token", new("POST", refresh, Caller.Anonymous, """{"refreshToken":42}"""), 400, "malformed-body", "refreshToken");
        Add("refresh: empty token", new("POST", refresh, Caller.Anonymous, """{"refreshToken":""}"""), 400, "field-length", "refreshToken");
        Add("refresh: huge token", new("POST", refresh, Caller.Anonymous, $$"""{"refreshToken":"{{Huge}}"}"""), 400, "field-length", "refreshToken");
        Add("refresh: garbage token", new("POST", refresh, Caller.Anonymous, """{"refreshToken":"garbage"}"""), 401, "invalid-refresh-token");
        Add("me: anonymous", new("GET", "/api/auth/me", Caller.Anonymous), 401, "unauthenticated");
        Add("me: expired access token", new("GET", "/api/auth/me", Caller.ExpiredJwt), 401, "unauthenticated");
        const string logout = "/api/auth/logout";
        Add("logout: malformed JSON", new("POST", logout, Caller.Anonymous, """{"refreshToken":}"""), 400, "malformed-body");
        Add("logout: null body", new("POST", logout, Caller.Anonymous, "null"), 400, "missing-field", "body");
        Add("logout: missing token", new("POST", logout, Caller.Anonymous, "{}"), 400, "missing-field", "refreshToken");
        Add("logout: number for token", new("POST", logout, Caller.Anonymous, """{"refreshToken":42}"""), 400, "malformed-body", "refreshToken");
        Add("logout: empty token", new("POST", logout, Caller.Anonymous, """{"refreshToken":""}"""), 400, "field-length", "refreshToken");
        Add("logout: huge token", new("POST", logout, Caller.Anonymous, $$"""{"refreshToken":"{{Huge}}"}"""), 400, "field-length", "refreshToken");
        Add("refresh: forged token", new("POST", refresh, Caller.Anonymous, $$"""{"refreshToken":"{{Guid.NewGuid():N}}.forged-secret"}"""), 401, "invalid-refresh-token");
    }

    private static void EventCases()
    {
        Add("event: unknown id", new("GET", "/api/events/no-such-event", Caller.Anonymous), 404, "event-not-found");
        Add("event: huge id", new("GET", $"/api/events/{new string('e', 5_000)}", Caller.Anonymous), 404, "event-not-found");
        Add("event: id that is no slug", new("GET", "/api/events/Not%20A%20Slug%23%2F", Caller.Anonymous), 404, "event-not-found");
        Add("seats: unknown event", new("GET", "/api/events/no-such-event/blocks/{block}/seats", Caller.Anonymous), 404, "event-not-found");
        Add("seats: unknown block", new("GET", "/api/events/{event}/blocks/no-such-block/seats", Caller.Anonymous), 404, "block-not-found");
        Add("seats: huge block id", new("GET", $"/api/events/{{event}}/blocks/{new string('b', 5_000)}/seats", Caller.Anonymous), 404, "block-not-found");
    }

    private static void QueueCases()
    {
        const string queue = "/api/events/{event}/queue";
        Add("join: anonymous", new("POST", queue, Caller.Anonymous), 401, "unauthenticated");
        Add("join: garbage bearer token", new("POST", queue, Caller.GarbageBearer), 401, "unauthenticated");
        Add("join: tampered access token", new("POST", queue, Caller.TamperedJwt), 401, "unauthenticated");
        Add("join: access token signed by someone else", new("POST", queue, Caller.ForeignJwt), 401, "unauthenticated");
        Add("join: expired access token", new("POST", queue, Caller.ExpiredJwt), 401, "unauthenticated");
        Add("join: basic authorization", new("POST", queue, Authorization: "Basic dXNlcjpwYXNzd29yZA=="), 401, "unauthenticated");
        Add("join: bearer without a token", new("POST", queue, Authorization: "Bearer"), 401, "unauthenticated");
        Add("join: unknown event", new("POST", "/api/events/no-such-event/queue"), 404, "event-not-found");
        Add("join: huge event id", new("POST", $"/api/events/{new string('e', 5_000)}/queue"), 404, "event-not-found");
        Add("queue status: anonymous", new("GET", queue + "/me", Caller.Anonymous), 401, "unauthenticated");
        Add("queue status: not in the queue", new("GET", queue + "/me", Caller.Admin), 404, "not-in-queue");
        Add("queue status: unknown event", new("GET", "/api/events/no-such-event/queue/me"), 404, "event-not-found");
        Add("leave: anonymous", new("DELETE", queue + "/me", Caller.Anonymous), 401, "unauthenticated");
        Add("leave: not in the queue", new("DELETE", queue + "/me", Caller.Admin), 404, "not-in-queue");
        Add("leave: unknown event", new("DELETE", "/api/events/no-such-event/queue/me"), 404, "event-not-found");
    }

    private static void ReservationCases()
    {
        const string reserve = "/api/events/{event}/reservations";
        const string one = """{"blockId":"{block}","quantity":1}""";
        Add("reserve: anonymous", new("POST", reserve, Caller.Anonymous, one, AdmissionKind.Valid), 401, "unauthenticated");
        Add("reserve: unknown event", new("POST", "/api/events/no-such-event/reservations", Body: one, Admission: AdmissionKind.Valid), 404, "event-not-found");
        Add("reserve: no admission token", new("POST", reserve, Body: one), 403, "admission-required", Admission);
        Add("reserve: garbage admission token", new("POST", reserve, Body: one, Admission: AdmissionKind.Garbage), 403, "admission-invalid", Admission);
        Add("reserve: oversized admission token", new("POST", reserve, Body: one, Admission: AdmissionKind.TooLong), 403, "admission-invalid", Admission);
        Add("reserve: tampered admission token", new("POST", reserve, Body: one, Admission: AdmissionKind.Tampered), 403, "admission-invalid", Admission);
        Add("reserve: forged admission token", new("POST", reserve, Body: one, Admission: AdmissionKind.Forged), 403, "admission-invalid", Admission);
        Add("reserve: queue ticket for an admission token", new("POST", reserve, Body: one, Admission: AdmissionKind.QueueTicket), 403, "admission-invalid", Admission);
        Add("reserve: expired admission token", new("POST", reserve, Body: one, Admission: AdmissionKind.Expired), 403, "admission-expired", Admission);
        Add("reserve: another event's admission token", new("POST", reserve, Body: one, Admission: AdmissionKind.OtherEvent), 403, "admission-mismatch", Admission);
        Add("reserve: another user's admission token", new("POST", reserve, Body: one, Admission: AdmissionKind.OtherUser), 403, "admission-mismatch", Admission);

        void Body(string name, string body, int status, string code, string? field = null, string? idempotencyKey = null) =>
            Add("reserve: " + name, new("POST", reserve, Body: body, Admission: AdmissionKind.Valid, IdempotencyKey: idempotencyKey), status, code, field);

        Body("malformed JSON", """{"blockId":"{block}",""", 400, "malformed-body");
        Body("array for object", """[{"blockId":"{block}","quantity":1}]""", 400, "malformed-body");
        Body("null body", "null", 400, "missing-field", "body");
        Body("missing block", """{"quantity":1}""", 400, "missing-field", "blockId");
        Body("number for block", """{"blockId":7,"quantity":1}""", 400, "malformed-body", "blockId");
        Body("object for block", """{"blockId":{},"quantity":1}""", 400, "malformed-body", "blockId");
        Body("empty block", """{"blockId":"","quantity":1}""", 400, "field-length", "blockId");
        Body("huge block", $$"""{"blockId":"{{Huge}}","quantity":1}""", 400, "field-length", "blockId");
        Body("unknown block", """{"blockId":"balcony","quantity":1}""", 400, "block-not-found", "blockId");
        Body("neither seats nor quantity", """{"blockId":"{block}"}""", 400, "seats-or-quantity", "quantity");
        Body("both seats and quantity", """{"blockId":"{block}","seatIds":["A-1"],"quantity":1}""", 400, "seats-or-quantity", "seatIds");
        Body("zero quantity", """{"blockId":"{block}","quantity":0}""", 400, "out-of-range", "quantity");
        Body("negative quantity", """{"blockId":"{block}","quantity":-1}""", 400, "out-of-range", "quantity");
        Body("quantity over the ticket limit", """{"blockId":"{block}","quantity":5}""", 400, "out-of-range", "quantity");
        Body("quantity over int range", """{"blockId":"{block}","quantity":2147483648}""", 400, "malformed-body", "quantity");
        Body("quantity 1e30", """{"blockId":"{block}","quantity":1e30}""", 400, "malformed-body", "quantity");
        Body("fractional quantity", """{"blockId":"{block}","quantity":1.5}""", 400, "malformed-body", "quantity");
        Body("string for quantity", """{"blockId":"{block}","quantity":"1"}""", 400, "malformed-body", "quantity");
        Body("string for seats", """{"blockId":"{block}","seatIds":"A-1"}""", 400, "malformed-body", "seatIds");
        Body("number in seats", """{"blockId":"{block}","seatIds":[1]}""", 400, "malformed-body", "seatIds[0]");
        Body("no seats", """{"blockId":"{block}","seatIds":[]}""", 400, "invalid-seats", "seatIds");
        Body("empty seat id", """{"blockId":"{block}","seatIds":[""]}""", 400, "invalid-seats", "seatIds");
        Body("null seat id", """{"blockId":"{block}","seatIds":[null]}""", 400, "invalid-seats", "seatIds");
        Body("huge seat id", $$"""{"blockId":"{block}","seatIds":["{{Huge}}"]}""", 400, "invalid-seats", "seatIds");
        // Before, a 30 MB array was read and deserialised whole before the 20-seat rule refused it.
        Body("body over the size limit", $$"""{"blockId":"{block}","seatIds":[{{string.Join(',', Enumerable.Repeat("\"A-1\"", 60_000))}}]}""", 413, "body-too-large");
        Body("more seats than the limit", """{"blockId":"{block}","seatIds":["A-1","A-2","A-3","A-4","A-5"]}""", 400, "invalid-seats", "seatIds");
        Body("unknown seat", """{"blockId":"{block}","seatIds":["Z-99"]}""", 400, "unknown-seat", "seatIds");
        Body("seat row that is no row", """{"blockId":"{block}","seatIds":["a-1"]}""", 400, "unknown-seat", "seatIds");
        Body("seat zero", """{"blockId":"{block}","seatIds":["A-0"]}""", 400, "unknown-seat", "seatIds");
        Body("seat named twice", """{"blockId":"{block}","seatIds":["A-1","A-1"]}""", 400, "duplicate-seat", "seatIds");
        Body("huge idempotency key", one, 400, "invalid-idempotency-key", ReservationsApi.IdempotencyHeader, idempotencyKey: new string('k', 101));
        // Two headers would bind as the one key "k1,k2", which no retry sends again.
        Body("two idempotency keys", one, 400, "invalid-idempotency-key", ReservationsApi.IdempotencyHeader, idempotencyKey: "k1\nk2");
        Body("two idempotency keys folded into one header", one, 400, "invalid-idempotency-key", ReservationsApi.IdempotencyHeader, idempotencyKey: "k1, k2");
        // Whichever came last used to win: 3 seats for a request a proxy read as 1.
        Body("quantity given twice", """{"blockId":"{block}","quantity":1,"quantity":3}""", 400, "duplicate-field", "quantity");
        Body("quantity given twice in another case", """{"blockId":"{block}","quantity":1,"Quantity":3}""", 400, "duplicate-field", "Quantity");
        Body("unknown field", """{"blockId":"{block}","quantity":1,"seats":2}""", 400, "unknown-field", "seats");

        Add("my reservations: anonymous", new("GET", "/api/reservations", Caller.Anonymous), 401, "unauthenticated");
        Add("reservation: anonymous", new("GET", "/api/reservations/{mine}", Caller.Anonymous), 401, "unauthenticated");
        Add("reservation: malformed id", new("GET", "/api/reservations/not-a-guid"), 404, "reservation-not-found");
        Add("reservation: huge id", new("GET", $"/api/reservations/{new string('r', 5_000)}"), 404, "reservation-not-found");
        Add("reservation: unknown id", new("GET", $"/api/reservations/{Guid.NewGuid()}"), 404, "reservation-not-found");
        Add("reservation: another user's", new("GET", "/api/reservations/{theirs}"), 404, "reservation-not-found");
        Add("cancel: anonymous", new("POST", "/api/reservations/{mine}/cancel", Caller.Anonymous), 401, "unauthenticated");
        Add("cancel: malformed id", new("POST", "/api/reservations/not-a-guid/cancel"), 404, "reservation-not-found");
        Add("cancel: unknown id", new("POST", $"/api/reservations/{Guid.NewGuid()}/cancel"), 404, "reservation-not-found");
        Add("cancel: another user's", new("POST", "/api/reservations/{theirs}/cancel"), 404, "reservation-not-found");
    }

    private static void PaymentCases()
    {
        const string pay = "/api/reservations/{mine}/payment";
        const string sandbox = """{"provider":"sandbox"}""";
        Add("pay: anonymous", new("POST", pay, Caller.Anonymous, sandbox), 401, "unauthenticated");
        Add("pay: malformed id", new("POST", "/api/reservations/not-a-guid/payment", Body: sandbox), 404, "reservation-not-found");
        Add("pay: unknown id", new("POST", $"/api/reservations/{Guid.NewGuid()}/payment", Body: sandbox), 404, "reservation-not-found");
        Add("pay: another user's", new("POST", "/api/reservations/{theirs}/payment", Body: sandbox), 404, "reservation-not-found");
        Add("pay: another user's with their payment", new("POST", "/api/reservations/{theirs}/payment", Body: """{"provider":"sandbox","paymentId":"{theirPayment}"}"""), 404, "reservation-not-found");
        Add("pay: malformed JSON", new("POST", pay, Body: """{"provider":"""), 400, "malformed-body");
        Add("pay: no body", new("POST", pay), 400, "missing-field", "body");
        Add("pay: array for object", new("POST", pay, Body: """["sandbox"]"""), 400, "malformed-body");
        Add("pay: missing provider", new("POST", pay, Body: "{}"), 400, "missing-field", "provider");
        Add("pay: number for provider", new("POST", pay, Body: """{"provider":1}"""), 400, "malformed-body", "provider");
        Add("pay: empty provider", new("POST", pay, Body: """{"provider":""}"""), 400, "field-length", "provider");
        Add("pay: NUL in payment id", new("POST", pay, Body: """{"provider":"sandbox","paymentId":"pay\u0000"}"""), 400, "invalid-characters", "paymentId");
        Add("pay: C1 line break (NEL) inside payment id", new("POST", pay, Body: """{"provider":"sandbox","paymentId":"pay\u0085id"}"""), 400, "invalid-characters", "paymentId");
        // Before, the misspelt id was dropped and the checkout's payment was captured instead.
        Add("pay: misspelt payment id field", new("POST", pay, Body: """{"provider":"sandbox","payment_id":"sbx_x"}"""), 400, "unknown-field", "payment_id");
        Add("pay: payment id given twice", new("POST", pay, Body: """{"provider":"sandbox","paymentId":"a","paymentId":"b"}"""), 400, "duplicate-field", "paymentId");
        Add("pay: line break inside payment id", new("POST", pay, Body: """{"provider":"sandbox","paymentId":"pay\nid"}"""), 400, "invalid-characters", "paymentId");
        Add("pay: huge provider", new("POST", pay, Body: $$"""{"provider":"{{Huge}}"}"""), 400, "field-length", "provider");
        Add("pay: unknown provider", new("POST", pay, Body: """{"provider":"visa"}"""), 400, "unknown-provider", "provider");
        Add("pay: number for payment id", new("POST", pay, Body: """{"provider":"sandbox","paymentId":5}"""), 400, "malformed-body", "paymentId");
        Add("pay: empty payment id", new("POST", pay, Body: """{"provider":"sandbox","paymentId":""}"""), 400, "field-length", "paymentId");
        Add("pay: huge payment id", new("POST", pay, Body: $$"""{"provider":"sandbox","paymentId":"{{Huge}}"}"""), 400, "field-length", "paymentId");
        Add("pay: unknown payment id", new("POST", pay, Body: """{"provider":"sandbox","paymentId":"sbx_pay_nope"}"""), 400, "payment-not-found", "paymentId");
        Add("pay: another reservation's payment", new("POST", pay, Body: """{"provider":"sandbox","paymentId":"{theirPayment}"}"""), 400, "payment-mismatch", "paymentId");

        const string checkout = "/api/payments/sandbox/checkout";
        Add("checkout: anonymous", new("POST", checkout, Caller.Anonymous, """{"reservationId":"{mine}"}"""), 401, "unauthenticated");
        Add("checkout: malformed JSON", new("POST", checkout, Body: """{"reservationId":"""), 400, "malformed-body");
        Add("checkout: no body", new("POST", checkout), 400, "missing-field", "body");
        Add("checkout: missing reservation", new("POST", checkout, Body: "{}"), 400, "missing-field", "reservationId");
        Add("checkout: malformed reservation id", new("POST", checkout, Body: """{"reservationId":"not-a-guid"}"""), 400, "malformed-body", "reservationId");
        Add("checkout: number for reservation id", new("POST", checkout, Body: """{"reservationId":42}"""), 400, "malformed-body", "reservationId");
        Add("checkout: unknown reservation", new("POST", checkout, Body: $$"""{"reservationId":"{{Guid.NewGuid()}}"}"""), 404, "reservation-not-found");
        Add("checkout: another user's reservation", new("POST", checkout, Body: """{"reservationId":"{theirs}"}"""), 404, "reservation-not-found");
    }

    private static void AdminCases()
    {
        const string events = "/api/admin/events";
        var valid = EventBody();
        Add("create event: anonymous", new("POST", events, Caller.Anonymous, valid), 401, "unauthenticated");
        Add("create event: not an admin", new("POST", events, Caller.User, valid), 403, "forbidden");
        Add("create event: forged admin token", new("POST", events, Caller.ForeignJwt, valid), 401, "unauthenticated");
        Add("cluster: anonymous", new("GET", "/api/admin/cluster", Caller.Anonymous), 401, "unauthenticated");
        Add("cluster: not an admin", new("GET", "/api/admin/cluster", Caller.User), 403, "forbidden");
        Add("domain events: anonymous", new("GET", "/api/admin/domain-events", Caller.Anonymous), 401, "unauthenticated");
        Add("domain events: not an admin", new("GET", "/api/admin/domain-events", Caller.User), 403, "forbidden");
        Add("domain events: zero", new("GET", "/api/admin/domain-events?limit=0", Caller.Admin), 400, "out-of-range", "limit");
        Add("domain events: too many", new("GET", "/api/admin/domain-events?limit=1001", Caller.Admin), 400, "out-of-range", "limit");
        Add("domain events: not a number", new("GET", "/api/admin/domain-events?limit=ten", Caller.Admin), 400, "out-of-range", "limit");

        void Create(string name, string body, int status, string code, string? field = null) =>
            Add("create event: " + name, new("POST", events, Caller.Admin, body), status, code, field);

        Create("malformed JSON", """{"name":""", 400, "malformed-body");
        Create("null body", "null", 400, "missing-field", "body");
        Create("array for object", "[]", 400, "malformed-body");
        Create("id taken", EventBody(e => e["eventId"] = "{event}"), 409, "event-exists", "eventId");
        Create("id that is no slug", EventBody(e => e["eventId"] = "Not A Slug"), 400, "invalid-event-id", "eventId");
        Create("missing name", EventBody(e => e.Remove("name")), 400, "missing-field", "name");
        Create("empty name", EventBody(e => e["name"] = ""), 400, "field-length", "name");
        Create("huge name", EventBody(e => e["name"] = Huge), 400, "field-length", "name");
        Create("number for name", EventBody(e => e["name"] = 5), 400, "malformed-body", "name");
        Create("missing venue", EventBody(e => e.Remove("venue")), 400, "missing-field", "venue");
        Create("missing start", EventBody(e => e.Remove("startsAt")), 400, "missing-field", "startsAt");
        Create("start that is no date", EventBody(e => e["startsAt"] = "next friday"), 400, "malformed-body", "startsAt");
        // Without an offset, the server's own time zone would decide the instant.
        Create("start without an offset", EventBody(e => e["startsAt"] = "2031-01-01T19:00:00"), 400, "offset-required", "startsAt");
        Create("sales opening without an offset", EventBody(e => e["salesOpenAt"] = "2030-12-01T10:00:00"), 400, "offset-required", "salesOpenAt");
        Create("date without a time", EventBody(e => e["salesOpenAt"] = "2030-12-01"), 400, "offset-required", "salesOpenAt");
        Create("sales opening after the start", EventBody(e => e["salesOpenAt"] = "2031-02-01T00:00:00Z"), 400, "sales-after-start", "salesOpenAt");
        Create("start in the past", EventBody(e => { e["startsAt"] = "2020-01-01T19:00:00Z"; e["salesOpenAt"] = "2019-12-01T10:00:00Z"; }), 400, "starts-in-past", "startsAt");
        // Before, the event was created, and then its queue grain could never activate (an overflow): 503 for good.
        Create("start at the end of time", EventBody(e => e["startsAt"] = "9999-12-31T23:30:00Z"), 400, "starts-too-late", "startsAt");
        Create("start beyond ten years", EventBody(e => e["startsAt"] = DateTimeOffset.UtcNow.AddYears(11).ToString("O")), 400, "starts-too-late", "startsAt");
        Create("currency that is no code", EventBody(e => e["currency"] = "won"), 400, "invalid-currency", "currency");
        Create("zero ticket limit", EventBody(e => e["ticketLimitPerUser"] = 0), 400, "out-of-range", "ticketLimitPerUser");
        Create("ticket limit too high", EventBody(e => e["ticketLimitPerUser"] = 21), 400, "out-of-range", "ticketLimitPerUser");
        Create("ticket limit over int range", EventBody(e => e["ticketLimitPerUser"] = Raw("2147483648")), 400, "malformed-body", "ticketLimitPerUser");
        Create("string for ticket limit", EventBody(e => e["ticketLimitPerUser"] = "4"), 400, "malformed-body", "ticketLimitPerUser");
        Create("missing blocks", EventBody(e => e.Remove("blocks")), 400, "missing-field", "blocks");
        Create("no blocks", EventBody(e => e["blocks"] = new JsonArray()), 400, "out-of-range", "blocks");
        Create("object for blocks", EventBody(e => e["blocks"] = new JsonObject()), 400, "malformed-body", "blocks");
        Create("null block", EventBody(e => e["blocks"] = new JsonArray((JsonNode?)null)), 400, "missing-field", "blocks[0]");
        Create("block id that is no slug", EventBody(e => e["blocks"]![0]!["blockId"] = "Block A"), 400, "invalid-block-id", "blocks[0].blockId");
        Create("zero rows", EventBody(e => e["blocks"]![0]!["rows"] = 0), 400, "out-of-range", "blocks[0].rows");
        Create("negative rows", EventBody(e => e["blocks"]![0]!["rows"] = -1), 400, "out-of-range", "blocks[0].rows");
        Create("seats per row 1e30", EventBody(e => e["blocks"]![0]!["seatsPerRow"] = Raw("1e30")), 400, "malformed-body", "blocks[0].seatsPerRow");
        Create("block too large", EventBody(e =>
        {
            var block = e["blocks"]![0]!;
            block["rows"] = 200;
            block["seatsPerRow"] = 200;
        }), 400, "block-too-large", "blocks[0].rows");
        Create("negative price", EventBody(e => e["blocks"]![0]!["price"] = -1), 400, "out-of-range", "blocks[0].price");
        Create("price 1e30", EventBody(e => e["blocks"]![0]!["price"] = Raw("1e30")), 400, "malformed-body", "blocks[0].price");
        Create("string for price", EventBody(e => e["blocks"]![0]!["price"] = "free"), 400, "malformed-body", "blocks[0].price");
        Create("duplicate blocks", EventBody(e => e["blocks"] = new JsonArray(Block(), Block())), 400, "duplicate-block", "blocks");
        Create("missing queue", EventBody(e => e.Remove("queue")), 400, "missing-field", "queue");
        Create("array for queue", EventBody(e => e["queue"] = new JsonArray()), 400, "malformed-body", "queue");
        Create("zero admission rate", EventBody(e => e["queue"]!["admissionsPerMinute"] = 0), 400, "out-of-range", "queue.admissionsPerMinute");
        Create("hold too short", EventBody(e => e["queue"]!["holdSeconds"] = 1), 400, "out-of-range", "queue.holdSeconds");
        Create("claim window longer than the session", EventBody(e => e["queue"]!["claimWindowSeconds"] = 7200), 400, "out-of-range", "queue.claimWindowSeconds");
        Create("missing sales opening", EventBody(e => e.Remove("salesOpenAt")), 400, "missing-field", "salesOpenAt");
        Create("empty venue", EventBody(e => e["venue"] = " "), 400, "field-length", "venue");
        Create("venue too long", EventBody(e => e["venue"] = new string('v', 201)), 400, "field-length", "venue");
        Create("empty currency", EventBody(e => e["currency"] = ""), 400, "invalid-currency", "currency");
        Create("lowercase currency", EventBody(e => e["currency"] = "krw"), 400, "invalid-currency", "currency");
        Create("three letters that are no ISO 4217 currency", EventBody(e => e["currency"] = "ZZZ"), 400, "invalid-currency", "currency");
        Create("a metal for currency", EventBody(e => e["currency"] = "XAU"), 400, "invalid-currency", "currency");
        Create("a withdrawn currency (the lev, euro since 2026)", EventBody(e => e["currency"] = "BGN"), 400, "invalid-currency", "currency");
        // Before, the misspelt field was dropped and the event was priced in KRW.
        Create("misspelt currency field", EventBody(e => e["curency"] = "USD"), 400, "unknown-field", "curency");
        Create("currency given twice", EventBody().Replace("\"currency\":\"KRW\"", "\"currency\":\"KRW\",\"currency\":\"USD\""), 400, "duplicate-field", "currency");
        Create("fraction of a won", EventBody(e => e["blocks"]![0]!["price"] = 1000.5m), 400, "price-precision", "blocks[0].price");
        Create("fraction of a cent", EventBody(e => { e["currency"] = "USD"; e["blocks"]![0]!["price"] = 10.001m; }), 400, "price-precision", "blocks[0].price");
        Create("unknown field in a block", EventBody(e => e["blocks"]![0]!["colour"] = "red"), 400, "unknown-field", "blocks[0].colour");
        Create("event id too long", EventBody(e => e["eventId"] = "e" + new string('x', 64)), 400, "invalid-event-id", "eventId");
        Create("event id starting with a digit", EventBody(e => e["eventId"] = "1st-show"), 400, "invalid-event-id", "eventId");
        Create("51 blocks", EventBody(e => e["blocks"] = new JsonArray([.. Enumerable.Range(0, 51).Select(i => (JsonNode)Block($"b{i}"))])), 400, "out-of-range", "blocks");
        Create("missing block id", EventBody(e => e["blocks"]![0]!.AsObject().Remove("blockId")), 400, "missing-field", "blocks[0].blockId");
        Create("block id too long", EventBody(e => e["blocks"]![0]!["blockId"] = new string('b', 33)), 400, "field-length", "blocks[0].blockId");
        Create("missing block name", EventBody(e => e["blocks"]![0]!.AsObject().Remove("name")), 400, "missing-field", "blocks[0].name");
        Create("block name too long", EventBody(e => e["blocks"]![0]!["name"] = new string('n', 101)), 400, "field-length", "blocks[0].name");
        Create("201 seats per row", EventBody(e => e["blocks"]![0]!["seatsPerRow"] = 201), 400, "out-of-range", "blocks[0].seatsPerRow");
        Create("no shoppers at once", EventBody(e => e["queue"]!["maxActiveShoppers"] = 0), 400, "out-of-range", "queue.maxActiveShoppers");
        Create("session too short", EventBody(e => e["queue"]!["shoppingSessionSeconds"] = 59), 400, "out-of-range", "queue.shoppingSessionSeconds");
        Create("session too long", EventBody(e => e["queue"]!["shoppingSessionSeconds"] = 7201), 400, "out-of-range", "queue.shoppingSessionSeconds");
        Create("claim window too short", EventBody(e => e["queue"]!["claimWindowSeconds"] = 9), 400, "out-of-range", "queue.claimWindowSeconds");
        Create("hold too long", EventBody(e => e["queue"]!["holdSeconds"] = 3601), 400, "out-of-range", "queue.holdSeconds");
        Create("null admission rate", EventBody(e => e["queue"]!["admissionsPerMinute"] = null), 400, "missing-field", "queue.admissionsPerMinute");

        const string queue = "/api/admin/events/{event}/queue";
        Add("update queue: not an admin", new("PUT", queue, Caller.User, """{"paused":true}"""), 403, "forbidden");
        Add("update queue: anonymous", new("PUT", queue, Caller.Anonymous, """{"paused":true}"""), 401, "unauthenticated");
        // Before, the misspelt limit was dropped while the rest of the update went through.
        Add("update queue: misspelt field", new("PUT", queue, Caller.Admin, """{"paused":false,"maxActiveShopper":1}"""), 400, "unknown-field", "maxActiveShopper");
        Add("update queue: unknown event", new("PUT", "/api/admin/events/no-such-event/queue", Caller.Admin, """{"paused":true}"""), 404, "event-not-found");
        Add("update queue: malformed JSON", new("PUT", queue, Caller.Admin, "{"), 400, "malformed-body");
        Add("update queue: no body", new("PUT", queue, Caller.Admin), 400, "missing-field", "body");
        Add("update queue: nothing to change", new("PUT", queue, Caller.Admin, "{}"), 400, "empty-update", "admissionsPerMinute");
        Add("update queue: zero admission rate", new("PUT", queue, Caller.Admin, """{"admissionsPerMinute":0}"""), 400, "out-of-range", "admissionsPerMinute");
        Add("update queue: negative shoppers", new("PUT", queue, Caller.Admin, """{"maxActiveShoppers":-1}"""), 400, "out-of-range", "maxActiveShoppers");
        Add("update queue: admission rate over int range", new("PUT", queue, Caller.Admin, """{"admissionsPerMinute":2147483648}"""), 400, "malformed-body", "admissionsPerMinute");
        Add("update queue: string for paused", new("PUT", queue, Caller.Admin, """{"paused":"yes"}"""), 400, "malformed-body", "paused");

        Add("stats: not an admin", new("GET", "/api/admin/events/{event}/stats", Caller.User), 403, "forbidden");
        Add("stats: anonymous", new("GET", "/api/admin/events/{event}/stats", Caller.Anonymous), 401, "unauthenticated");
        Add("stats: unknown event", new("GET", "/api/admin/events/no-such-event/stats", Caller.Admin), 404, "event-not-found");
    }

    private static string EventBody(Action<JsonObject>? change = null)
    {
        var body = new JsonObject
        {
            ["name"] = "Bad input",
            ["venue"] = "Test Hall",
            ["startsAt"] = "2031-01-01T19:00:00Z",
            ["salesOpenAt"] = "2030-12-01T10:00:00Z",
            ["currency"] = "KRW",
            ["ticketLimitPerUser"] = 4,
            ["blocks"] = new JsonArray(Block()),
            ["queue"] = new JsonObject
            {
                ["admissionsPerMinute"] = 60,
                ["maxActiveShoppers"] = 10,
                ["claimWindowSeconds"] = 60,
                ["shoppingSessionSeconds"] = 600,
                ["holdSeconds"] = 300,
            },
        };
        change?.Invoke(body);
        return body.ToJsonString();
    }

    private static JsonObject Block(string blockId = "a") => new() { ["blockId"] = blockId, ["name"] = "A", ["rows"] = 1, ["seatsPerRow"] = 10, ["price"] = 1000 };

    private static JsonNode Raw(string json) => JsonNode.Parse(json)!;
}
