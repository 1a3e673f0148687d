using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using TicketQueue.Integration.Tests.Infrastructure;
using TicketQueue.Grains.Queue;

namespace TicketQueue.Integration.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessClusterCollection
{
    public const string Name = "process cluster";
}

/// <summary>
/// Two silos and a gateway as separate processes on a real PostgreSQL and Redis. One silo is killed with
/// SIGKILL in the middle of a ticket opening; afterwards every acknowledged place and purchase must stand.
/// </summary>
[Collection(ProcessClusterCollection.Name)]
public sealed class ClusterFailoverTests
{
    private const int Users = 30;
    private const int Rows = 5;
    private const int SeatsPerRow = 10;

    [Fact]
    public async Task Killing_a_silo_mid_opening_loses_no_place_and_sells_no_seat_twice()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await ProcessCluster.Start(silos: 2, gateways: 1);
        var api = new ShopperApi(cluster.Gateways[0]);
        var admin = await api.Admin(ct);
        var eventId = await admin.CreateEvent(Rows, SeatsPerRow, ct);
        var shoppers = new Shopper[Users];
        await Parallel.ForAsync(0, Users, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct },
            async (i, token) => shoppers[i] = await api.Register(token));

        // What the system acknowledged to each shopper: their ticket, their hold, their purchase.
        var tickets = new ConcurrentDictionary<int, long>();
        var holds = new ConcurrentDictionary<int, string>();
        var purchases = new ConcurrentDictionary<int, string>();
        var halfJoined = new TaskCompletionSource();

        var stream = Parallel.ForAsync(0, Users, new ParallelOptions { MaxDegreeOfParallelism = 6, CancellationToken = ct }, async (i, token) =>
        {
            var shopper = shoppers[i];
            var joined = await shopper.Join(eventId, token);
            tickets[i] = joined["ticketNumber"]!.GetValue<long>();
            if (tickets.Count >= Users / 2)
            {
                halfJoined.TrySetResult();
            }

            var admission = await shopper.AwaitAdmission(eventId, token);
            var hold = await shopper.Hold(eventId, admission, 1 + i % 2, token);
            var reservationId = hold["reservationId"]!.GetValue<string>();
            holds[i] = reservationId;
            if (i % 3 != 0)
            {
                await shopper.PayWithSandbox(reservationId, token);
                purchases[i] = reservationId;
            }
        });

        await halfJoined.Task.WaitAsync(TimeSpan.FromMinutes(2), ct);

        // The hardest silo to lose: the one hosting the event's queue grain, mid-block of ticket numbers.
        var queueSilo = (await admin.Send($"/api/admin/events/{eventId}/stats", ct))["queueSilo"]!.GetValue<string>();
        var victim = cluster.Silos.Single(s => queueSilo.EndsWith($":{s.SiloPort}", StringComparison.Ordinal));
        Assert.False(victim.Process.HasExited);
        victim.Process.Kill();
        await stream.WaitAsync(TimeSpan.FromMinutes(5), ct);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"Killed {victim.Process.Name} after {tickets.Count} joins; clients retried {api.TransientFailures} transient failures.");

        // Every acknowledged ticket is still that user's place, and no number went to two users.
        foreach (var (i, ticket) in tickets)
        {
            var me = await shoppers[i].Me(eventId, ct);
            Assert.Equal(ticket, me["ticketNumber"]!.GetValue<long>());
        }

        Assert.Equal(Users, tickets.Values.Distinct().Count());

        // Every seat is free, held by exactly one hold, or sold once.
        var reservations = new List<JsonNode>();
        foreach (var (i, reservationId) in holds)
        {
            reservations.Add(await shoppers[i].Reservation(reservationId, ct));
        }

        var seatOwners = reservations
            .SelectMany(r => r["seats"]!.AsArray().Select(s => (Seat: s!.GetValue<string>(), Status: r["status"]!.GetValue<string>())))
            .ToList();
        Assert.Equal(seatOwners.Count, seatOwners.Select(o => o.Seat).Distinct().Count());
        Assert.All(purchases.Values, id => Assert.Equal("confirmed", reservations.Single(r => r["reservationId"]!.GetValue<string>() == id)["status"]!.GetValue<string>()));

        var seats = (await admin.Seats(eventId, ct)).AsArray().Select(s => (Id: s!["seatId"]!.GetValue<string>(), Status: s["status"]!.GetValue<string>())).ToList();
        Assert.Equal(Rows * SeatsPerRow, seats.Count);
        var sold = seatOwners.Where(o => o.Status == "confirmed").Select(o => o.Seat).Order().ToList();
        var held = seatOwners.Where(o => o.Status == "pendingPayment").Select(o => o.Seat).Order().ToList();
        Assert.Equal(sold, seats.Where(s => s.Status == "sold").Select(s => s.Id).Order().ToList());
        Assert.Equal(held, seats.Where(s => s.Status == "held").Select(s => s.Id).Order().ToList());

        // A silo started on the dead one's ports rejoins, and the cluster keeps taking joins.
        await cluster.StartSilo(victim.SiloPort, victim.GatewayPort);
        var view = await WaitForActiveSilos(admin, 2, ct);
        Assert.Contains(view, s => s.Address.EndsWith($":{victim.SiloPort}", StringComparison.Ordinal) && s.Status == "Active");
        Assert.Contains(view, s => s.Address.EndsWith($":{victim.SiloPort}", StringComparison.Ordinal) && s.Status == "Dead");

        var late = await api.Register(ct);
        var lateTicket = (await late.Join(eventId, ct))["ticketNumber"]!.GetValue<long>();
        Assert.DoesNotContain(lateTicket, tickets.Values);
        // The kill took the queue grain with it (the stats named its silo): a new activation goes on past the
        // block of numbers the dead one had reserved. Had the queue lived on the survivor, the numbers would run on.
        Assert.True(lateTicket > new QueueOptions().TicketBlockSize, $"ticket {lateTicket} after the kill: the queue grain did not die with its silo");
    }

    private static async Task<List<(string Address, string Status)>> WaitForActiveSilos(Shopper admin, int count, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var silos = (await admin.ClusterView(ct))["silos"]!.AsArray()
                .Select(s => (Address: s!["address"]!.GetValue<string>(), Status: s["status"]!.GetValue<string>()))
                .ToList();
            if (silos.Count(s => s.Status == "Active") >= count || DateTime.UtcNow > deadline)
            {
                return silos;
            }

            await Task.Delay(500, ct);
        }
    }
}
