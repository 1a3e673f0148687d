using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using TicketQueue.Grains.DomainEvents.Relay;
using TicketQueue.Integration.Tests.Infrastructure;

namespace TicketQueue.Integration.Tests.Kafka;

/// <summary>
/// The outbox relay against a real PostgreSQL and librdkafka's mock Kafka cluster, read back by a real
/// consumer group: what reaches Kafka, in what order, and what a crash, an outage or a second relay do to it.
/// </summary>
public sealed class OutboxRelayTests(OutboxServerFixture server) : IClassFixture<OutboxServerFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_ticket_opening_reaches_Kafka_as_CloudEvents_each_once_and_in_order_per_aggregate()
    {
        using var kafka = Delivery.StartKafka();
        await using var db = await server.NewDatabase();
        var opening = TicketOpening.Script(users: 60, reservations: 25);
        await db.Append(opening.Appends);

        using var consumer = EventConsumer.Start(kafka.BootstrapServers, Delivery.Topics);
        await using var relay = await RelayHost.Start("relay", db.ConnectionString, kafka.BootstrapServers);
        var received = await consumer.WaitUntil(r => Delivery.AllArrived(opening.Events, r), Patience, "the opening's events");

        Delivery.AssertExactlyOnceInOrder(opening.Events, received);
        Assert.Equal(opening.Events.Count, await db.PublishedCount());
        Assert.Equal(new OutboxLag(0, 0), await db.Lag());
    }

    [Fact]
    public async Task A_relay_killed_mid_batch_and_restarted_repeats_some_events_at_most_and_loses_none()
    {
        using var kafka = Delivery.StartKafka();
        // Slow acknowledgements, so the kill lands while a batch is in flight.
        kafka.SetRoundTripTime(1, TimeSpan.FromMilliseconds(25));
        await using var db = await server.NewDatabase();
        var opening = TicketOpening.Script(users: 500, reservations: 100);
        // The bound on repeats below (two batches) means something only if it is less than everything.
        if (opening.Events.Count <= 2 * 100)
        {
            throw new InvalidOperationException($"The script makes {opening.Events.Count} events; it must make more than two batches' worth.");
        }

        await db.Append(opening.Appends);
        var settings = new Dictionary<string, string?> { ["BatchSize"] = "100" };

        using var consumer = EventConsumer.Start(kafka.BootstrapServers, Delivery.Topics);
        var first = await RelayHost.Start("relay-first", db.ConnectionString, kafka.BootstrapServers, settings);
        await consumer.WaitUntil(r => r.Count >= 300, Patience, "the first relay's first batches");

        // The kill: its PostgreSQL sessions end (and with them its partitions), then the process goes.
        Assert.True(await db.TerminateSessionsOf("relay-first") > 0);
        await first.DisposeAsync();
        var shippedBeforeRestart = await db.PublishedCount();
        Assert.InRange(shippedBeforeRestart, 0, opening.Events.Count - 1);

        await using var second = await RelayHost.Start("relay-second", db.ConnectionString, kafka.BootstrapServers, settings);
        var received = await consumer.WaitUntil(r => Delivery.AllArrived(opening.Events, r), Patience, "every event after the restart");

        var repeats = Delivery.AssertAtLeastOnceInOrder(opening.Events, received);
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{opening.Events.Count} events; {shippedBeforeRestart} marked published before the kill; {repeats} delivered twice.");
        // Rows are marked after each round's acknowledgements, so only unmarked rounds go again: the one the
        // kill interrupted, and at most one more in flight when the first relay stopped. A batch each.
        Assert.InRange(repeats, 0, 2 * 100);
        await WaitFor(async () => (await db.Lag()).Unshipped == 0, "the outbox to drain");
    }

    [Fact]
    public async Task A_broker_outage_delays_events_and_the_relay_backs_off_then_delivers_them_all()
    {
        using var kafka = Delivery.StartKafka();
        await using var db = await server.NewDatabase();
        var opening = TicketOpening.Script(users: 80, reservations: 30);
        var (before, during) = (opening.Appends.Take(10).ToList(), opening.Appends.Skip(10).ToList());
        var settings = new Dictionary<string, string?> { ["Kafka:DeliveryTimeout"] = "00:00:00.500" };

        using var consumer = EventConsumer.Start(kafka.BootstrapServers, Delivery.Topics);
        await using var relay = await RelayHost.Start("relay", db.ConnectionString, kafka.BootstrapServers, settings);
        using var meters = new OutboxMeters(relay.Services);
        await db.Append(before);
        var beforeEvents = before.SelectMany(a => a).ToList();
        await consumer.WaitUntil(r => Delivery.AllArrived(beforeEvents, r), Patience, "the events before the outage");

        kafka.SetBrokerDown(1);
        await db.Append(during);
        await WaitFor(() => Task.FromResult(meters.Counter("ticketqueue.outbox.failed_rounds") >= 2), "the relay to fail and back off twice");
        Assert.Equal(beforeEvents.Count, consumer.Received.Count);
        Assert.True((await db.Lag()).Unshipped > 0);

        kafka.SetBrokerUp(1);
        var received = await consumer.WaitUntil(r => Delivery.AllArrived(opening.Events, r), Patience, "every event after the outage");

        Delivery.AssertAtLeastOnceInOrder(opening.Events, received);
        await WaitFor(async () => (await db.Lag()).Unshipped == 0, "the outbox to drain");
    }

    [Fact]
    public async Task An_event_Kafka_refuses_holds_back_its_own_aggregate_and_the_others_keep_shipping()
    {
        using var kafka = Delivery.StartKafka();
        await using var db = await server.NewDatabase();
        // Larger than librdkafka's message.max.bytes (1,000,000): the producer refuses it every time.
        var tooLarge = await db.AppendRow("reservation", "poisoned", "reservation.held", $$"""{"note":"{{new string('x', 1_100_000)}}"}""");
        var behindIt = await db.AppendRow("reservation", "poisoned", "reservation.cancelled", """{"note":"small"}""");
        // Reservations have several events each, and a round ships one per aggregate: they need several rounds.
        var opening = TicketOpening.Script(users: 40, reservations: 20);
        await db.Append(opening.Appends);
        // A back-off this test never waits out: if the refusal held back the whole relay, the opening's
        // later rounds would come minutes late.
        var settings = new Dictionary<string, string?> { ["InitialBackoff"] = "00:05:00", ["MaxBackoff"] = "00:05:00" };

        using var consumer = EventConsumer.Start(kafka.BootstrapServers, Delivery.Topics);
        await using var relay = await RelayHost.Start("relay", db.ConnectionString, kafka.BootstrapServers, settings);
        using var meters = new OutboxMeters(relay.Services);
        var received = await consumer.WaitUntil(r => Delivery.AllArrived(opening.Events, r), Patience, "the other aggregates' events");

        // Nothing of the refused aggregate arrived (the check refuses events it was not given), in particular
        // not the small event recorded after the refused one: an aggregate's events never overtake each other.
        Delivery.AssertExactlyOnceInOrder(opening.Events, received);
        await WaitFor(async () => (await db.Lag()).Unshipped == 2, "only the refused aggregate's events to be left");
        Assert.False(await db.IsPublished(tooLarge));
        Assert.False(await db.IsPublished(behindIt));
        Assert.Equal(1, meters.Gauge("ticketqueue.outbox.parked_aggregates"));
        Assert.Equal(0, meters.Counter("ticketqueue.outbox.failed_rounds"));
        Assert.Contains(relay.Log, line => line.Contains(tooLarge.ToString()) && line.Contains("refused"));
    }

    [Fact]
    public async Task An_event_a_broker_refuses_alone_in_a_quiet_round_holds_back_only_its_own_aggregate()
    {
        using var kafka = Delivery.StartKafka();
        // The payments topic's ACL does not let the relay write (a broker's refusal, not a failing Kafka).
        kafka.SetTopicError("ticketqueue.payment", Confluent.Kafka.ErrorCode.TopicAuthorizationFailed);
        await using var db = await server.NewDatabase();
        var denied = await db.AppendRow("payment", "denied", "payment.approved", """{"note":"small"}""");
        var settings = new Dictionary<string, string?> { ["InitialBackoff"] = "00:05:00", ["MaxBackoff"] = "00:05:00" };

        using var consumer = EventConsumer.Start(kafka.BootstrapServers, Delivery.Topics);
        await using var relay = await RelayHost.Start("relay", db.ConnectionString, kafka.BootstrapServers, settings);
        using var meters = new OutboxMeters(relay.Services);
        await WaitFor(() => Task.FromResult(relay.Log.Any(line => line.Contains("authorization", StringComparison.OrdinalIgnoreCase))), "the refusal");

        // Events of other aggregates recorded after it. Before, the refused event, alone in its round, was
        // taken for a failing Kafka: the whole relay backed off (five minutes here), and these waited too.
        var opening = TicketOpening.Script(users: 20, reservations: 0);
        await db.Append(opening.Appends);
        var received = await consumer.WaitUntil(r => Delivery.AllArrived(opening.Events, r), Patience, "the other aggregates' events");

        Delivery.AssertExactlyOnceInOrder(opening.Events, received);
        Assert.False(await db.IsPublished(denied));
        Assert.Equal(1, meters.Gauge("ticketqueue.outbox.parked_aggregates"));
        Assert.Equal(0, meters.Counter("ticketqueue.outbox.failed_rounds"));
    }

    [Fact]
    public async Task Published_events_past_the_retention_are_deleted_and_unpublished_ones_are_kept()
    {
        using var kafka = Delivery.StartKafka();
        await using var db = await server.NewDatabase();
        var refused = await db.AppendRow("reservation", "poisoned", "reservation.held", $$"""{"note":"{{new string('x', 1_100_000)}}"}""");
        var opening = TicketOpening.Script(users: 30, reservations: 10);
        await db.Append(opening.Appends);
        // RetainUnshipped is for clusters without Kafka: here it must not touch the event Kafka refused.
        var settings = new Dictionary<string, string?> { ["RetainPublished"] = "00:00:01", ["RetainUnshipped"] = "00:00:01", ["PruneInterval"] = "00:00:00.200" };

        using var consumer = EventConsumer.Start(kafka.BootstrapServers, Delivery.Topics);
        await using var relay = await RelayHost.Start("relay", db.ConnectionString, kafka.BootstrapServers, settings);
        using var meters = new OutboxMeters(relay.Services);
        await consumer.WaitUntil(r => Delivery.AllArrived(opening.Events, r), Patience, "the events");
        await WaitFor(async () => await db.RowCount() == 1, "the published events to be deleted");

        // What is left is the one event Kafka never took, older than the retention but not published.
        Assert.False(await db.IsPublished(refused));
        Assert.Equal(opening.Events.Count, meters.Counter("ticketqueue.outbox.pruned"));
        Assert.Equal(opening.Events.Count, meters.Counter("ticketqueue.outbox.shipped"));
    }

    [Fact]
    public async Task Without_Kafka_the_silos_delete_events_past_the_unshipped_retention_between_them_and_keep_younger_ones()
    {
        await using var db = await server.NewDatabase();
        // More than two chunks of events recorded two days ago, and a ticket opening recorded now.
        await db.AppendAged(12_000, TimeSpan.FromDays(2));
        var opening = TicketOpening.Script(users: 30, reservations: 10);
        await db.Append(opening.Appends);
        var settings = new Dictionary<string, string?> { ["RetainUnshipped"] = "1.00:00:00", ["PruneInterval"] = "00:00:00.200" };

        // Two silos of one cluster, no brokers: no relay, so the events will never be shipped.
        await using var first = await RelayHost.Start("silo-a", db.ConnectionString, bootstrapServers: "", settings);
        await using var second = await RelayHost.Start("silo-b", db.ConnectionString, bootstrapServers: "", settings);
        using var firstMeters = new OutboxMeters(first.Services);
        using var secondMeters = new OutboxMeters(second.Services);
        await WaitFor(async () => await db.RowCount() == opening.Events.Count, "the old events to be deleted");

        // Before, the table only grew. Now what is left is exactly what was recorded within the retention,
        // and the two silos deleted each old event once between them.
        Assert.Equal(opening.Events.Count, (await db.Lag()).Unshipped);
        Assert.Equal(0, await db.PublishedCount());
        Assert.Equal(12_000, firstMeters.Counter("ticketqueue.outbox.pruned") + secondMeters.Counter("ticketqueue.outbox.pruned"));
        Assert.Throws<InvalidOperationException>(() => first.Relay);
    }

    [Fact]
    public async Task Two_relays_never_own_one_partition_at_once_and_the_survivor_takes_over_a_stopped_ones_partitions()
    {
        using var kafka = Delivery.StartKafka();
        await using var db = await server.NewDatabase();
        var opening = TicketOpening.Script(users: 600, reservations: 100);
        var settings = new Dictionary<string, string?> { ["BatchSize"] = "50" };
        var changes = new ConcurrentQueue<(string Relay, long At, OutboxOwnershipChange Change)>();
        void Record(string name, OutboxRelay relay) => relay.OwnershipChanged += c => changes.Enqueue((name, Stopwatch.GetTimestamp(), c));

        using var consumer = EventConsumer.Start(kafka.BootstrapServers, Delivery.Topics);
        var first = await RelayHost.Start("relay-a", db.ConnectionString, kafka.BootstrapServers, settings, r => Record("a", r));
        // The events keep coming while a second relay joins, while the two share the work and while one stops.
        var appending = Task.Run(async () =>
        {
            foreach (var chunk in opening.Appends.Chunk(8))
            {
                await db.Append(chunk);
                await Task.Delay(15, TestContext.Current.CancellationToken);
            }
        }, TestContext.Current.CancellationToken);
        await WaitFor(() => Task.FromResult(first.Relay.OwnedPartitions.Count == 16), "the first relay to own every partition");
        await consumer.WaitUntil(r => r.Count >= 100, Patience, "the first relay's first events");

        await using var second = await RelayHost.Start("relay-b", db.ConnectionString, kafka.BootstrapServers, settings, r => Record("b", r));
        await WaitFor(() => Task.FromResult(first.Relay.OwnedPartitions.Count == 8 && second.Relay.OwnedPartitions.Count == 8),
            "the first relay to hand half of the partitions to the second");
        await consumer.WaitUntil(r => r.Count >= opening.Events.Count / 4, Patience, "a quarter of the events");
        var stopped = first.Relay;
        await first.DisposeAsync();
        Assert.Empty(stopped.OwnedPartitions);
        await WaitFor(() => Task.FromResult(second.Relay.OwnedPartitions.Count == 16), "the survivor to own every partition");
        await appending;
        var received = await consumer.WaitUntil(r => Delivery.AllArrived(opening.Events, r), Patience, "every event");

        // Stopped, not killed: the stopping relay recorded what was acknowledged before letting go, so nothing repeats.
        Delivery.AssertExactlyOnceInOrder(opening.Events, received);
        AssertNoPartitionOwnedTwiceAtOnce(changes.ToList());
    }

    [Fact]
    public async Task The_lag_grows_while_the_broker_is_down_and_returns_to_zero_after()
    {
        using var kafka = Delivery.StartKafka();
        await using var db = await server.NewDatabase();
        var opening = TicketOpening.Script(users: 40, reservations: 10);
        var (before, during, later) = (opening.Appends.Take(5).ToList(), opening.Appends.Skip(5).Take(10).ToList(), opening.Appends.Skip(15).ToList());
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(RelayHost.Settings(kafka.BootstrapServers, new Dictionary<string, string?>
            {
                ["LagAlertSeconds"] = "1",
                ["Kafka:DeliveryTimeout"] = "00:00:00.500",
            }))
            .Build();

        // The relay, the lag gauges and the status grain as a cluster silo runs them.
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton(_ => Npgsql.NpgsqlDataSource.Create(db.ConnectionString));
            silo.Services.AddOutboxRelay(configuration);
        });
        await using var cluster = builder.Build();
        await cluster.DeployAsync(TestContext.Current.CancellationToken);
        var silo = cluster.Silos[0].ServiceProvider;
        using var meters = new OutboxMeters(silo);
        var status = cluster.Client.GetGrain<IOutboxStatusGrain>(0);
        using var consumer = EventConsumer.Start(kafka.BootstrapServers, Delivery.Topics);

        await db.Append(before);
        await consumer.WaitUntil(r => Delivery.AllArrived([.. before.SelectMany(a => a)], r), Patience, "the events before the outage");
        await WaitFor(async () => await status.GetLag() is { Unshipped: 0, Healthy: true }, "no lag before the outage");

        kafka.SetBrokerDown(1);
        await db.Append(during);
        var duringCount = during.Sum(a => a.Count);
        await WaitFor(async () => (await status.GetLag()).Unshipped == duringCount, "the events of the outage to count as lag");
        await db.Append(later);
        var all = opening.Events.Count - before.Sum(a => a.Count);
        await WaitFor(async () => await status.GetLag() is { Healthy: false } lag && lag.Unshipped == all && lag.OldestAgeSeconds > 1,
            "the lag to grow past its alert threshold");
        await WaitFor(() => Task.FromResult(meters.Gauge("ticketqueue.outbox.unshipped") == all), "the unshipped gauge to show the backlog");
        Assert.True(meters.Gauge("ticketqueue.outbox.oldest_age_seconds") > 1);
        Assert.Equal(all, (await db.Lag()).Unshipped);

        kafka.SetBrokerUp(1);
        await consumer.WaitUntil(r => Delivery.AllArrived(opening.Events, r), Patience, "every event after the outage");
        await WaitFor(async () => await status.GetLag() is { Unshipped: 0, OldestAgeSeconds: 0, Healthy: true }, "the lag to return to zero");
        await WaitFor(() => Task.FromResult(meters.Gauge("ticketqueue.outbox.unshipped") == 0), "the unshipped gauge to return to zero");
        Assert.Equal(0, meters.Gauge("ticketqueue.outbox.oldest_age_seconds"));
    }

    [Fact]
    public async Task A_relay_whose_database_session_breaks_lets_go_of_its_partitions_and_takes_them_back()
    {
        using var kafka = Delivery.StartKafka();
        await using var db = await server.NewDatabase();
        var opening = TicketOpening.Script(users: 60, reservations: 20);
        var (before, after) = (opening.Appends.Take(12).ToList(), opening.Appends.Skip(12).ToList());
        var changes = new ConcurrentQueue<OutboxOwnershipChange>();

        using var consumer = EventConsumer.Start(kafka.BootstrapServers, Delivery.Topics);
        await using var relay = await RelayHost.Start("relay", db.ConnectionString, kafka.BootstrapServers, beforeStart: r => r.OwnershipChanged += changes.Enqueue);
        await db.Append(before);
        await consumer.WaitUntil(r => Delivery.AllArrived([.. before.SelectMany(a => a)], r), Patience, "the events before the break");

        // As a PostgreSQL restart or a network cut would: the session and its advisory locks are gone.
        Assert.True(await db.TerminateSessionsOf("relay") > 0);
        await db.Append(after);
        var received = await consumer.WaitUntil(r => Delivery.AllArrived(opening.Events, r), Patience, "every event after the break");

        Delivery.AssertAtLeastOnceInOrder(opening.Events, received);
        Assert.Equal(16, relay.Relay.OwnedPartitions.Count);
        Assert.Contains(changes, c => c.Released.Count == 16 && c.Owned.Count == 0);
        Assert.Equal(16, changes.Last().Owned.Count);
    }

    [Fact]
    public async Task Relays_configured_with_different_partition_counts_ship_nothing_until_they_agree()
    {
        using var kafka = Delivery.StartKafka();
        await using var db = await server.NewDatabase();
        var opening = TicketOpening.Script(users: 40, reservations: 10);
        var (before, during) = (opening.Appends.Take(8).ToList(), opening.Appends.Skip(8).ToList());

        using var consumer = EventConsumer.Start(kafka.BootstrapServers, Delivery.Topics);
        await using var sixteen = await RelayHost.Start("relay-16", db.ConnectionString, kafka.BootstrapServers);
        await db.Append(before);
        var beforeEvents = before.SelectMany(a => a).ToList();
        await consumer.WaitUntil(r => Delivery.AllArrived(beforeEvents, r), Patience, "the events before the second relay");

        // Hashing aggregates into 8 partitions instead of 16, it would ship aggregates the first relay ships too.
        var eight = await RelayHost.Start("relay-8", db.ConnectionString, kafka.BootstrapServers, new Dictionary<string, string?> { ["Partitions"] = "8" });
        await WaitFor(() => Task.FromResult(sixteen.Relay.OwnedPartitions.Count == 0 && eight.Relay.OwnedPartitions.Count == 0),
            "both relays to give up every partition");
        await db.Append(during);
        // Nothing to poll for when nothing should happen: give a wrong shipment a few rounds' time to show.
        await Task.Delay(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
        Assert.Equal(beforeEvents.Count, consumer.Received.Count);

        await eight.DisposeAsync();
        var received = await consumer.WaitUntil(r => Delivery.AllArrived(opening.Events, r), Patience, "every event once the relays agree");
        Delivery.AssertExactlyOnceInOrder(opening.Events, received);
    }

    [Fact]
    public async Task A_relay_stopped_during_a_broker_outage_stops_within_seconds_and_its_successor_ships_everything()
    {
        using var kafka = Delivery.StartKafka();
        await using var db = await server.NewDatabase();
        var opening = TicketOpening.Script(users: 40, reservations: 10);

        using var consumer = EventConsumer.Start(kafka.BootstrapServers, Delivery.Topics);
        // A delivery timeout of ten minutes: a stop that waited for the round would wait that long.
        var first = await RelayHost.Start("relay-first", db.ConnectionString, kafka.BootstrapServers,
            new Dictionary<string, string?> { ["Kafka:DeliveryTimeout"] = "00:10:00" });
        await WaitFor(() => Task.FromResult(first.Relay.OwnedPartitions.Count == 16), "the relay to own every partition");
        kafka.SetBrokerDown(1);
        await db.Append(opening.Appends);
        await WaitFor(async () => (await db.Lag()).Unshipped == opening.Events.Count, "the events to wait in the outbox");
        // A round starts within a poll interval (50 ms) and then waits for acknowledgements that cannot come.
        await Task.Delay(TimeSpan.FromMilliseconds(300), TestContext.Current.CancellationToken);

        // It gives the round up (a few seconds' grace for acknowledgements), far from the ten minutes; the
        // bound is wide so a slow machine does not fail it.
        await first.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);

        kafka.SetBrokerUp(1);
        await using var second = await RelayHost.Start("relay-second", db.ConnectionString, kafka.BootstrapServers);
        var received = await consumer.WaitUntil(r => Delivery.AllArrived(opening.Events, r), Patience, "every event from the successor");
        Delivery.AssertAtLeastOnceInOrder(opening.Events, received);
    }

    /// <summary>
    /// Replays each relay's reported ownership (taken after the lock, given up before the unlock, so each
    /// reported interval contains the real one) and checks that no partition was ever held by both at once.
    /// </summary>
    private static void AssertNoPartitionOwnedTwiceAtOnce(IReadOnlyList<(string Relay, long At, OutboxOwnershipChange Change)> changes)
    {
        var intervals = new List<(int Partition, string Relay, long From, long To)>();
        var open = new Dictionary<(string, int), long>();
        foreach (var (relay, at, change) in changes.OrderBy(c => c.At))
        {
            foreach (var partition in change.Taken)
            {
                open[(relay, partition)] = at;
            }

            foreach (var partition in change.Released)
            {
                Assert.True(open.Remove((relay, partition), out var from), $"relay {relay} gave up partition {partition} it never took");
                intervals.Add((partition, relay, from, at));
            }
        }

        intervals.AddRange(open.Select(o => (o.Key.Item2, o.Key.Item1, o.Value, long.MaxValue)));
        Assert.Equal(2, intervals.Select(i => i.Relay).Distinct().Count());
        foreach (var partition in intervals.GroupBy(i => i.Partition))
        {
            var ordered = partition.OrderBy(i => i.From).ToList();
            for (var i = 1; i < ordered.Count; i++)
            {
                Assert.True(ordered[i - 1].To < ordered[i].From,
                    $"partition {partition.Key} was owned by {ordered[i - 1].Relay} and {ordered[i].Relay} at the same time");
            }
        }
    }

    private static async Task WaitFor(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out after {Patience} waiting for {what}.");
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }
    }
}
