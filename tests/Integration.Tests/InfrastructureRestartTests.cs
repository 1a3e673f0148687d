using System.Collections.Concurrent;
using System.Globalization;
using StackExchange.Redis;
using TicketQueue.Integration.Tests.Infrastructure;

namespace TicketQueue.Integration.Tests;

/// <summary>
/// PostgreSQL and Redis restarted under a running cluster: what users see meanwhile (a clear, retryable
/// problem or a normal answer, never a 500) and that nothing acknowledged is lost.
/// </summary>
[Collection(ProcessClusterCollection.Name)]
public sealed class InfrastructureRestartTests
{
    [Fact]
    public async Task A_PostgreSQL_restart_answers_503_problems_then_recovers_with_every_acknowledged_place()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await ProcessCluster.Start(silos: 2, gateways: 1);
        var gateway = cluster.Gateways[0];
        var api = new ShopperApi(gateway);
        var admin = await api.Admin(ct);
        var eventId = await admin.CreateEvent(rows: 2, seatsPerRow: 10, ct);
        await admin.SetQueue(eventId, new() { ["paused"] = true }, ct);
        var before = await RegisterAndJoin(api, eventId, 10, ct);
        var newcomer = await api.Register(ct);
        var streamers = new List<Shopper>();
        for (var i = 0; i < 12; i++)
        {
            streamers.Add(await api.Register(ct));
        }

        // A steady stream of joins runs through the outage; each one retries 503s as a browser would.
        var streamed = new ConcurrentDictionary<Shopper, long>();
        var stream = Task.Run(async () =>
        {
            foreach (var shopper in streamers)
            {
                streamed[shopper] = (await shopper.Join(eventId, ct))["ticketNumber"]!.GetValue<long>();
                await Task.Delay(250, ct);
            }
        }, ct);
        await Task.Delay(600, ct);
        await cluster.Postgres.Stop();

        // A first place in line must be durable before it is given, so the newcomer is told to retry.
        using (var client = gateway.Client(newcomer.AccessToken))
        using (var response = await client.PostAsync($"/api/events/{eventId}/queue", null, ct))
        {
            await ShouldBeRetryable(response);
        }

        // So is a new account.
        using (var client = gateway.Client())
        using (var response = await client.PostAsJsonAsync("/api/auth/register",
            new { email = $"late-{Guid.NewGuid():N}@example.com", password = "correct horse battery", displayName = "Late" }, ct))
        {
            await ShouldBeRetryable(response);
        }

        // Those already in line are told their place from memory, or asked to retry; never a 500.
        foreach (var (shopper, ticket) in before.Take(3))
        {
            using var client = gateway.Client(shopper.AccessToken);
            using var response = await client.GetAsync($"/api/events/{eventId}/queue/me", ct);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                var me = await response.Content.ReadFromJsonAsync<JsonElement>(ct);
                Assert.Equal(ticket, me.GetProperty("ticketNumber").GetInt64());
            }
            else
            {
                await ShouldBeRetryable(response);
            }
        }

        Assert.False(stream.IsCompleted, "the stream of joins should still be waiting out the outage");
        await cluster.Postgres.StartServer();
        await stream.WaitAsync(TimeSpan.FromMinutes(2), ct);

        // Retried, the newcomer's join succeeds, and everyone who was told a place still has it.
        var joined = await newcomer.Join(eventId, ct);
        var acknowledged = before.Concat(streamed).Append(new(newcomer, joined["ticketNumber"]!.GetValue<long>())).ToList();
        Assert.Equal(acknowledged.Count, acknowledged.Select(a => a.Value).Distinct().Count());
        foreach (var (shopper, ticket) in acknowledged)
        {
            Assert.Equal(ticket, (await shopper.Me(eventId, ct))["ticketNumber"]!.GetValue<long>());
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"Clients retried {api.TransientFailures} transient failures.");
    }

    [Fact]
    public async Task A_Redis_restart_keeps_the_cluster_serving_and_loses_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await ProcessCluster.Start(silos: 2, gateways: 1);
        var (api, admin, eventId, before) = await PausedLineOf(cluster, shoppers: 5, ct);

        // Membership and reminders live in Redis, grain state does not: with Redis down, silos keep the
        // membership they know and users keep joining.
        var failuresBefore = api.TransientFailures;
        await cluster.Redis.Stop();
        var during = await RegisterAndJoin(api, eventId, 5, ct);

        // A queue that starts now cannot register its keep-alive reminder; it opens anyway.
        var newEvent = await admin.CreateEvent(rows: 1, seatsPerRow: 10, ct);
        var early = await RegisterAndJoin(api, newEvent, 2, ct);
        Assert.Equal([1L, 2L], early.Values.Order());
        // Users see nothing of the outage: every call was answered at its first attempt, none retried after a 503.
        Assert.Equal(failuresBefore, api.TransientFailures);
        await cluster.Redis.StartServer();

        var after = await RegisterAndJoin(api, eventId, 5, ct);
        var all = before.Concat(during).Concat(after).ToList();
        foreach (var (shopper, ticket) in all)
        {
            Assert.Equal(ticket, (await shopper.Me(eventId, ct))["ticketNumber"]!.GetValue<long>());
        }

        Assert.Equal(all.Count, all.Select(a => a.Value).Distinct().Count());

        // The membership written before the restart is still there: a new gateway finds the silos through it.
        var second = await cluster.StartGateway();
        var viaSecond = new ShopperApi(second);
        var late = await viaSecond.Register(ct);
        var lateTicket = (await late.Join(eventId, ct))["ticketNumber"]!.GetValue<long>();
        Assert.DoesNotContain(lateTicket, all.Select(a => a.Value));
    }

    [Fact]
    public async Task When_Redis_loses_its_data_the_silos_stop_and_fresh_ones_bring_every_place_back()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await ProcessCluster.Start(silos: 2, gateways: 1);
        var (api, admin, eventId, before) = await PausedLineOf(cluster, shoppers: 5, ct);
        var silos = cluster.Silos.ToList();

        // Redis without persistence restarts empty: the membership table and the reminders are gone.
        using (var redis = await ConnectionMultiplexer.ConnectAsync(cluster.Redis.ConnectionString + ",allowAdmin=true"))
        {
            await redis.GetServers()[0].FlushAllDatabasesAsync();
        }

        // Before, the silos ran on unable to renew their rows; two minutes later every request timed out,
        // and nothing came back by itself. Now they stop, and say it was not a clean stop.
        var deadline = DateTime.UtcNow.AddMinutes(4);
        while (silos.Any(silo => !silo.Process.HasExited) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500, ct);
        }

        Assert.True(silos.All(silo => silo.Process.HasExited), $"a silo went on without its membership row:\n{cluster.Logs()}");
        Assert.All(silos, silo => Assert.Equal(3, silo.Process.ExitCode));

        // Each wrote the lost table again before stopping, so its stop could record it as dead rather than
        // wait minutes for writes to a table that was gone.
        using (var redis = await ConnectionMultiplexer.ConnectAsync(cluster.Redis.ConnectionString + ",allowAdmin=true"))
        {
            var table = Assert.Single(redis.GetServers()[0].Keys(pattern: "*/members/*"));
            var statuses = (await redis.GetDatabase().HashGetAllAsync(table))
                .Where(row => row.Name != "Version")
                // A row's name is the silo's address, "S<ip>:<port>:<generation>".
                .ToDictionary(row => int.Parse(row.Name.ToString().Split(':')[1], CultureInfo.InvariantCulture),
                    row => (SiloStatus)JsonDocument.Parse(row.Value.ToString()).RootElement.GetProperty("Status").GetInt32());
            Assert.Equal(silos.ToDictionary(silo => silo.SiloPort, _ => SiloStatus.Dead), statuses);
        }

        // What an orchestrator does with a failed task: start it again. The fresh silos write a new table.
        foreach (var silo in silos)
        {
            await cluster.StartSilo(silo.SiloPort, silo.GatewayPort);
        }

        // The gateway that ran through it all finds the fresh silos when it next reads the table.
        var restartedAt = DateTime.UtcNow;
        long? throughOldGateway = null;
        while (throughOldGateway is null && DateTime.UtcNow < restartedAt.AddMinutes(3))
        {
            try
            {
                using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
                attempt.CancelAfter(TimeSpan.FromSeconds(5));
                var shopper = await api.Register(attempt.Token);
                throughOldGateway = (await shopper.Join(eventId, attempt.Token))["ticketNumber"]!.GetValue<long>();
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                await Task.Delay(1000, ct);
            }
        }

        Assert.True(throughOldGateway is not null, $"the gateway that was running never served again:\n{cluster.Logs()}");

        // A gateway started now finds them too.
        var gateway = await cluster.StartGateway();
        var fresh = new ShopperApi(gateway);
        var adminAgain = await fresh.Admin(ct);
        await adminAgain.SetQueue(eventId, new() { ["paused"] = true }, ct);
        var after = await RegisterAndJoin(fresh, eventId, 3, ct);

        // Every place given before is kept (it is in PostgreSQL), and no number is given twice.
        foreach (var (shopper, ticket) in before)
        {
            Assert.Equal(ticket, (await new Shopper(fresh, shopper.AccessToken).Me(eventId, ct))["ticketNumber"]!.GetValue<long>());
        }

        var all = before.Values.Concat(after.Values).Append(throughOldGateway!.Value).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
    }

    private static async Task ShouldBeRetryable(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.ServiceUnavailable, $"{response.RequestMessage?.RequestUri}: {(int)response.StatusCode} {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("unavailable", JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());
        Assert.Equal("1", response.Headers.RetryAfter?.ToString());
    }

    /// <summary>A paused event on the cluster, and shoppers who joined its line through the first gateway.</summary>
    private static async Task<(ShopperApi Api, Shopper Admin, string EventId, Dictionary<Shopper, long> Joined)> PausedLineOf(
        ProcessCluster cluster, int shoppers, CancellationToken ct)
    {
        var api = new ShopperApi(cluster.Gateways[0]);
        var admin = await api.Admin(ct);
        var eventId = await admin.CreateEvent(rows: 2, seatsPerRow: 10, ct);
        await admin.SetQueue(eventId, new() { ["paused"] = true }, ct);
        return (api, admin, eventId, await RegisterAndJoin(api, eventId, shoppers, ct));
    }

    private static async Task<Dictionary<Shopper, long>> RegisterAndJoin(ShopperApi api, string eventId, int count, CancellationToken ct)
    {
        var joined = new ConcurrentDictionary<Shopper, long>();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct }, async (_, token) =>
        {
            var shopper = await api.Register(token);
            joined[shopper] = (await shopper.Join(eventId, token))["ticketNumber"]!.GetValue<long>();
        });
        return new Dictionary<Shopper, long>(joined);
    }
}
