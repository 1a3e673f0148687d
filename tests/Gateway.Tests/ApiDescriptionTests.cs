namespace TicketQueue.Gateway.Tests;

[Collection(GatewayCollection.Name)]
public sealed class ApiDescriptionTests(GatewayFixture fixture)
{
    public static TheoryData<string, string> PublicRoutes => new()
    {
        { "/api/auth/register", "post" },
        { "/api/auth/login", "post" },
        { "/api/auth/refresh", "post" },
        { "/api/auth/me", "get" },
        { "/api/events", "get" },
        { "/api/events/{eventId}", "get" },
        { "/api/events/{eventId}/blocks/{blockId}/seats", "get" },
        { "/api/events/{eventId}/queue", "post" },
        { "/api/events/{eventId}/queue/me", "get" },
        { "/api/events/{eventId}/queue/me", "delete" },
        { "/api/events/{eventId}/reservations", "post" },
        { "/api/reservations", "get" },
        { "/api/reservations/{reservationId}", "get" },
        { "/api/reservations/{reservationId}/payment", "post" },
        { "/api/reservations/{reservationId}/cancel", "post" },
        { "/api/payments/sandbox/checkout", "post" },
        { "/api/admin/events", "post" },
        { "/api/admin/events/{eventId}/queue", "put" },
        { "/api/admin/events/{eventId}/stats", "get" },
        { "/api/admin/cluster", "get" },
        { "/api/admin/domain-events", "get" },
    };

    [Theory]
    [MemberData(nameof(PublicRoutes))]
    public async Task The_OpenAPI_document_lists_the_public_route(string path, string method)
    {
        var ct = TestContext.Current.CancellationToken;
        var response = await fixture.Api.Anonymous().GetAsync("/openapi/v1.json", ct);
        await response.ShouldBe(HttpStatusCode.OK);

        var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement;
        Assert.True(document.GetProperty("paths").TryGetProperty(path, out var operations), $"{path} is not in the document");
        Assert.True(operations.TryGetProperty(method, out _), $"{method} {path} is not in the document");
    }

    [Theory]
    [InlineData("/health/live")]
    [InlineData("/health/ready")]
    public async Task The_health_endpoint_answers_200(string path)
    {
        var response = await fixture.Api.Anonymous().GetAsync(path, TestContext.Current.CancellationToken);
        await response.ShouldBe(HttpStatusCode.OK);
    }
}
