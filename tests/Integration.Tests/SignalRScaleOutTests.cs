using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using TicketQueue.Integration.Tests.Infrastructure;

namespace TicketQueue.Integration.Tests;

/// <summary>
/// Two gateway processes sharing the Redis backplane: a browser gets its admission whichever gateway
/// followed it, and no browser hears a cursor move twice because two gateways observe the queue.
/// </summary>
[Collection(ProcessClusterCollection.Name)]
public sealed class SignalRScaleOutTests
{
    [Fact]
    public async Task A_browser_on_one_gateway_hears_its_admission_sent_by_the_other_and_each_cursor_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await ProcessCluster.Start(silos: 1, gateways: 2);
        var (a, b) = (cluster.Gateways[0], cluster.Gateways[1]);
        var apiA = new ShopperApi(a);
        var admin = await apiA.Admin(ct);
        var eventId = await admin.CreateEvent(rows: 2, seatsPerRow: 10, ct);
        await admin.SetQueue(eventId, new() { ["paused"] = true }, ct);

        // Ursula waits with a browser tab on each gateway; only the tab on A follows the queue.
        var ursula = await apiA.Register(ct);
        var ticket = (await ursula.Join(eventId, ct))["ticket"]!.GetValue<string>();
        await using var tabOnA = await Browser.Connect(a, ursula.AccessToken, ct);
        await using var tabOnB = await Browser.Connect(b, ursula.AccessToken, ct);
        await tabOnA.Connection.InvokeAsync<JsonElement>("Follow", eventId, ticket, ct);

        // Victor follows through B, so both gateways observe the queue and both deliver cursor moves.
        var victor = await new ShopperApi(b).Register(ct);
        var victorTicket = (await victor.Join(eventId, ct))["ticket"]!.GetValue<string>();
        await using var victorTab = await Browser.Connect(b, victor.AccessToken, ct);
        await victorTab.Connection.InvokeAsync<JsonElement>("Follow", eventId, victorTicket, ct);

        await admin.SetQueue(eventId, new() { ["paused"] = false }, ct);

        var admittedOnB = await tabOnB.Next("Admitted", m => m.GetProperty("eventId").GetString() == eventId, ct);
        Assert.False(string.IsNullOrEmpty(admittedOnB.GetProperty("admissionToken").GetString()));
        await tabOnA.Next("Admitted", m => m.GetProperty("eventId").GetString() == eventId, ct);
        await victorTab.Next("Admitted", m => m.GetProperty("eventId").GetString() == eventId, ct);

        // A few more queue changes. Each one differs from the one before, so a message arriving twice in a
        // row could only be the same update delivered by both gateways.
        await admin.SetQueue(eventId, new() { ["paused"] = true }, ct);
        await admin.SetQueue(eventId, new() { ["paused"] = false }, ct);
        await admin.SetQueue(eventId, new() { ["admissionsPerMinute"] = 1_000 }, ct);
        await victorTab.Next("Cursor", m => m.GetProperty("admissionsPerMinute").GetDouble() == 1_000, ct);
        await tabOnA.Next("Cursor", m => m.GetProperty("admissionsPerMinute").GetDouble() == 1_000, ct);
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        foreach (var tab in new[] { tabOnA, victorTab })
        {
            var cursors = tab.All("Cursor").Select(m => m.GetRawText()).ToList();
            Assert.True(cursors.Count >= 4, $"expected at least 4 cursor messages, got {cursors.Count}");
            Assert.DoesNotContain(cursors.Zip(cursors.Skip(1)), pair => pair.First == pair.Second);
        }

        Assert.Empty(tabOnB.All("Cursor"));
    }

    private sealed class Browser : IAsyncDisposable
    {
        private readonly ConcurrentQueue<(string Kind, JsonElement Message)> _received = new();

        private Browser(HubConnection connection)
        {
            Connection = connection;
            foreach (var kind in new[] { "Cursor", "Admitted", "TicketAssigned" })
            {
                connection.On<JsonElement>(kind, m => _received.Enqueue((kind, m)));
            }
        }

        public HubConnection Connection { get; }

        public static async Task<Browser> Connect(GatewayProcess gateway, string accessToken, CancellationToken ct)
        {
            var connection = new HubConnectionBuilder()
                .WithUrl(new Uri(gateway.Address, "/hubs/queue"), o =>
                {
                    o.Transports = HttpTransportType.WebSockets;
                    o.AccessTokenProvider = () => Task.FromResult<string?>(accessToken);
                })
                .Build();
            var browser = new Browser(connection);
            await connection.StartAsync(ct);
            return browser;
        }

        public IEnumerable<JsonElement> All(string kind) => _received.Where(r => r.Kind == kind).Select(r => r.Message);

        public async Task<JsonElement> Next(string kind, Func<JsonElement, bool> match, CancellationToken ct)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (true)
            {
                if (All(kind).Where(match).Select(m => (JsonElement?)m).FirstOrDefault() is { } found)
                {
                    return found;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"No {kind} message; received: {string.Join(", ", _received.Select(r => r.Kind))}");
                }

                await Task.Delay(50, ct);
            }
        }

        public ValueTask DisposeAsync() => Connection.DisposeAsync();
    }
}
